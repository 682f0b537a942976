from typing import Dict

import numpy as np

from .metrics.body3d_mpjpe import mpjpe_errors


def root_relative_poses(dataset, root_index: int = 0) -> np.ndarray:
    """Ground-truth camera-frame poses of a dataset, root at the origin.

    Args:
        dataset: A dataset whose data infos carry ``keypoints_cam``
            (1, K, 3) (``H36MMultiViewDataset`` in a supervised or test mode).
        root_index (int): Index of the root joint.

    Returns:
        np.ndarray: Poses (N, K, 3) in the unit of the dataset (mm).
    """
    poses = np.concatenate([
        dataset.get_data_info(i)['keypoints_cam']
        for i in range(len(dataset))
    ]).astype(np.float64)
    return poses - poses[:, root_index:root_index + 1]


def mean_pose_errors(train_dataset, test_dataset,
                     root_index: int = 0) -> Dict[str, float]:
    """Errors of predicting the training set's mean pose for every sample.

    The floor any trained model must beat: the mean root-relative
    camera-frame pose of the training views, compared with each test view
    by the same MPJPE, P-MPJPE and N-MPJPE as :class:`Body3DMPJPE`.

    Returns:
        dict: ``MPJPE``, ``P-MPJPE`` and ``N-MPJPE`` in mm, with
        ``num_samples`` and ``num_samples_unaligned`` (see
        :func:`mpjpe_errors`).
    """
    mean_pose = root_relative_poses(train_dataset, root_index).mean(axis=0)
    gt = root_relative_poses(test_dataset, root_index)
    pred = np.broadcast_to(mean_pose, gt.shape).copy()
    mask = np.ones(gt.shape[:2], dtype=bool)
    return mpjpe_errors(pred, gt, mask)
