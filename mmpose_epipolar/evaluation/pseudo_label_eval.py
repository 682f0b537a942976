from typing import Dict

import numpy as np

from ..codecs import lift_to_camera
from .metrics.body3d_mpjpe import mpjpe_errors


def pseudo_label_errors(label_file: str, dataset,
                        root_index: int = 0) -> Dict[str, float]:
    """How far the pseudo-labels are from the 3D ground truth.

    Every labelled training view is lifted to camera space like a
    prediction (undistorted 2D, scale-free depth, ground-truth root depth)
    and compared, root-relative, with the view's ground truth, by the same
    MPJPE, P-MPJPE and N-MPJPE as :class:`Body3DMPJPE`. For reporting only:
    training never reads this ground truth.

    Args:
        label_file (str): Pseudo-label NPZ (``docs/conventions.md``).
        dataset: The same views with ground truth (``mode='test'`` or
            ``'supervised'``), giving ``keypoints_cam`` and ``camera_param``.

    Returns:
        dict: ``MPJPE``, ``P-MPJPE``, ``N-MPJPE`` (mm) over valid views and
        ``valid_fraction`` of the views.
    """
    with np.load(label_file, allow_pickle=False) as labels:
        index = {str(n): i for i, n in enumerate(labels['imgname'])}
        keypoints = labels['keypoints']
        depth = labels['keypoints_depth']
        visible = labels['keypoints_visible'] > 0
        valid = labels['valid']
    preds, gts, masks = [], [], []
    total = 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        name = '/'.join(info['img_path'].replace('\\', '/').split('/')[-3:])
        if name not in index:
            continue
        total += 1
        k = index[name]
        if not valid[k]:
            continue
        cam = info['camera_param']
        gt = info['keypoints_cam'][0].astype(np.float64)
        pred = lift_to_camera(keypoints[k], depth[k], cam['intrinsics'],
                              gt[root_index, 2], cam['distortion'])
        preds.append(pred - pred[root_index])
        gts.append(gt - gt[root_index])
        masks.append(visible[k] & np.isfinite(pred).all(-1))
    if not preds:
        raise ValueError(f'no valid pseudo-label of {label_file} matches '
                         'the dataset')
    pred, gt, mask = np.stack(preds), np.stack(gts), np.stack(masks)
    errors = mpjpe_errors(pred, gt, mask)
    errors['valid_fraction'] = len(preds) / max(total, 1)
    return errors
