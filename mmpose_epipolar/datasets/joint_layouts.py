# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Joint layouts and index mappings shared by the datasets.

The values are fixed in ``docs/conventions.md``; every part of the package
(datasets, pseudo-labels, codec, head) relies on them.
"""
from typing import List, Tuple

# Human3.6M's 17 joints (MMPose order) without the spine (index 7): the
# layout the network predicts. ``H36M17_TO_16[i]`` is the H36M-17 index of
# H36M-16 joint ``i``.
H36M17_TO_16: Tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13,
                                  14, 15, 16)

# H36M-16 joint ``i`` takes MPII joint ``MPII_TO_H36M16[i]`` (MPII's head_top
# stands in for H36M's head, upper_neck for neck_base).
MPII_TO_H36M16: Tuple[int, ...] = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15,
                                   12, 11, 10)

H36M16_ROOT = 0
H36M17_ROOT = 0

JOINT_LAYOUTS = {
    'h36m16': dict(
        num_keypoints=16,
        from_h36m17=H36M17_TO_16,
        metainfo_file='h36m_16.py'),
    'h36m17': dict(
        num_keypoints=17,
        from_h36m17=tuple(range(17)),
        # MMPose ships this file in its package (``.mim``) folder.
        metainfo_file='configs/_base_/datasets/h36m.py'),
}


def keypoint_converter_mapping(
        source_of_target: Tuple[int, ...]) -> List[Tuple[int, int]]:
    """Turn an index table into MMPose ``KeypointConverter`` pairs.

    Args:
        source_of_target (tuple[int]): ``source_of_target[i]`` is the source
            joint index that lands at target index ``i``.

    Returns:
        list[tuple[int, int]]: ``(source_index, target_index)`` pairs, the
        ``mapping`` argument of ``KeypointConverter``.
    """
    return [(int(src), tgt) for tgt, src in enumerate(source_of_target)]


# Ready-made MMPose transform config converting MPII's 16 joints to H36M-16,
# e.g. in the pipeline of an ``MpiiDataset`` wrapped by a ``CombinedDataset``
# whose metainfo is ``h36m_16.py`` (so flip pairs follow our layout).
MPII_TO_H36M16_CONVERTER = dict(
    type='KeypointConverter',
    num_keypoints=16,
    mapping=keypoint_converter_mapping(MPII_TO_H36M16))
