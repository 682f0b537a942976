from typing import Dict

import numpy as np

from ..datasets.pseudo_label_file import ImageNameIndex, load_pseudo_labels
from ..geometry import lift_to_camera
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
        dict: ``MPJPE``, ``P-MPJPE``, ``N-MPJPE`` (mm) over the visible
        joints of the valid views (alignments fitted on those joints only),
        ``num_samples`` (valid views), ``num_samples_unaligned`` (valid views
        with fewer than 4 visible joints, left out of P-MPJPE and N-MPJPE)
        and ``valid_fraction`` of the views.
    """
    labels = load_pseudo_labels(label_file)
    index = ImageNameIndex(labels['imgname'])
    keypoints = labels['keypoints']
    depth = labels['keypoints_depth']
    visible = labels['keypoints_visible'] > 0
    valid = labels['valid']
    preds, gts, masks = [], [], []
    total = 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        k = index.find(info['img_path'])
        if k is None:
            continue
        total += 1
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
