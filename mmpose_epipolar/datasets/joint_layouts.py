# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Joint layouts and index mappings shared by the datasets.

The values are fixed in ``docs/conventions.md``; every part of the package
(datasets, pseudo-labels, codec, head) relies on them.
"""
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

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
_METAINFO_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'metainfo')


def layout_metainfo_file(joint_layout: str) -> str:
    """The MMPose metainfo file of a layout of :data:`JOINT_LAYOUTS`
    (ours for ``'h36m16'``, MMPose's own for ``'h36m17'``)."""
    name = JOINT_LAYOUTS[joint_layout]['metainfo_file']
    if joint_layout == 'h36m16':
        return osp.join(_METAINFO_DIR, name)
    # MMPose ships its metainfo files in its package's ``.mim`` folder
    # (and would find them itself, with a warning).
    import mmpose
    shipped = osp.join(osp.dirname(mmpose.__file__), '.mim', name)
    return shipped if osp.isfile(shipped) else name


@lru_cache(maxsize=None)
def joint_names(joint_layout: str) -> Tuple[str, ...]:
    """The joint names of a layout of :data:`JOINT_LAYOUTS`, in order."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(
        dict(from_file=layout_metainfo_file(joint_layout)))
    names = meta['keypoint_id2name']
    return tuple(names[i] for i in range(len(names)))


def flip_indices(joint_layout: str) -> List[int]:
    """Each joint's left-right counterpart (itself on the midline)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    return list(parse_pose_metainfo(
        dict(from_file=layout_metainfo_file(joint_layout)))['flip_indices'])


def keypoint_converter_mapping(
        source_of_target: Tuple[Union[int, Tuple[int, int]], ...]
) -> List[Tuple[Union[int, Tuple[int, int]], int]]:
    """Turn an index table into MMPose ``KeypointConverter`` pairs.

    Args:
        source_of_target (tuple): ``source_of_target[i]`` is the source
            joint index that lands at target index ``i``, or a pair of
            source indices whose midpoint does.

    Returns:
        list[tuple]: ``(source_index, target_index)`` pairs (the source a
        pair of indices for a midpoint), the ``mapping`` argument of
        ``KeypointConverter``.
    """
    return [(_source_indices(src) if isinstance(src, (tuple, list))
             else int(src), tgt) for tgt, src in enumerate(source_of_target)]


def _source_indices(src) -> Tuple[int, int]:
    if len(src) != 2:
        raise ValueError('a synthesized joint is the midpoint of exactly two '
                         f'source joints, got {src!r}')
    return int(src[0]), int(src[1])


# Ready-made MMPose transform config converting MPII's 16 joints to H36M-16,
# e.g. in the pipeline of an ``MpiiDataset`` wrapped by a ``CombinedDataset``
# whose metainfo is ``h36m_16.py`` (so flip pairs follow our layout).
MPII_TO_H36M16_CONVERTER = dict(
    type='KeypointConverter',
    num_keypoints=16,
    mapping=keypoint_converter_mapping(MPII_TO_H36M16))


# COCO-17 order: 0 nose, 1 left_eye, 2 right_eye, 3 left_ear, 4 right_ear,
# 5 left_shoulder, 6 right_shoulder, 7 left_elbow, 8 right_elbow,
# 9 left_wrist, 10 right_wrist, 11 left_hip, 12 right_hip, 13 left_knee,
# 14 right_knee, 15 left_ankle, 16 right_ankle.
#
# H36M-16 joint ``i`` takes COCO joint ``COCO17_TO_H36M16[i]``, or the
# midpoint of a pair: root (pelvis) = mid-hips, thorax = mid-shoulders,
# head = mid-eyes, and H36M's neck_base (its "neck/nose" marker) = the
# nose, as MMPose converts COCO to Human3.6M for its 3D lifters
# (``mmpose.apis.convert_keypoint_definition``).
COCO17_TO_H36M16: Tuple[Union[int, Tuple[int, int]], ...] = (
    (11, 12), 12, 14, 16, 11, 13, 15, (5, 6), 0, (1, 2), 5, 7, 9, 6, 8, 10)

# MMPose transform config converting COCO's 17 joints to H36M-16 inside a
# dataset pipeline (visibility there is 0/1, where MMPose's product of the
# two sources' visibilities is their minimum).
COCO17_TO_H36M16_CONVERTER = dict(
    type='KeypointConverter',
    num_keypoints=16,
    mapping=keypoint_converter_mapping(COCO17_TO_H36M16))

#: Joints of each layout name accepted by :func:`convert_keypoints` (and
#: the footage tools' ``--keypoint-layout``).
KEYPOINT_LAYOUT_SIZES: Dict[str, int] = dict(
    coco17=17, h36m17=17, h36m16=16, mpii16=16)

#: ``(source layout, target layout)`` -> the source of each target joint.
LAYOUT_CONVERSIONS: Dict[Tuple[str, str], Tuple] = {
    ('coco17', 'h36m16'): COCO17_TO_H36M16,
    ('h36m17', 'h36m16'): H36M17_TO_16,
    ('mpii16', 'h36m16'): MPII_TO_H36M16,
}


def convert_keypoints(keypoints: np.ndarray, src: str = 'coco17',
                      dst: str = 'h36m16') -> np.ndarray:
    """Convert 2D keypoints with confidences between joint layouts.

    The coordinates go through MMPose's ``KeypointConverter`` (a copied
    joint is copied, a synthesized one is the midpoint of its two
    sources). Its visibility of a synthesized joint is the product of the
    sources', which for detector confidences in [0, 1] is lower than
    either and not a confidence; here **a synthesized joint takes the
    lowest confidence of its sources** (for 0/1 visibilities the two
    agree). A joint whose sources include a non-finite coordinate or
    confidence is NaN with confidence 0.

    Args:
        keypoints (np.ndarray): (..., J_src, 3) pixel x, y, confidence.
        src (str): Source layout, a key of :data:`KEYPOINT_LAYOUT_SIZES`.
        dst (str): Target layout (``'h36m16'``, the network's).

    Returns:
        np.ndarray: (..., J_dst, 3) float64.

    Raises:
        ValueError: For an unknown layout or conversion, or keypoints not
            shaped (..., J_src, 3).
    """
    for layout in (src, dst):
        if layout not in KEYPOINT_LAYOUT_SIZES:
            raise ValueError(f'unknown keypoint layout {layout!r}; known: '
                             f'{sorted(KEYPOINT_LAYOUT_SIZES)}')
    kp = np.asarray(keypoints, dtype=np.float64)
    num_src = KEYPOINT_LAYOUT_SIZES[src]
    if kp.ndim < 2 or kp.shape[-2:] != (num_src, 3):
        raise ValueError(f'{src} keypoints must have shape (..., {num_src}, '
                         f'3) (x, y, confidence), got {kp.shape}')
    if src == dst:
        return kp.copy()
    if (src, dst) not in LAYOUT_CONVERSIONS:
        raise ValueError(f'no conversion from {src} to {dst}; known: '
                         f'{sorted(LAYOUT_CONVERSIONS)}')
    from mmpose.datasets.transforms import KeypointConverter
    table = LAYOUT_CONVERSIONS[(src, dst)]
    first = [s[0] if isinstance(s, tuple) else s for s in table]
    second = [s[1] if isinstance(s, tuple) else s for s in table]

    flat = kp.reshape(-1, num_src, 3)
    usable = np.isfinite(flat).all(-1)
    conf = np.where(usable, flat[..., 2], 0.0)
    converter = KeypointConverter(
        num_keypoints=len(table), mapping=keypoint_converter_mapping(table))
    xy = converter.transform(
        dict(keypoints=flat[..., :2].copy(),
             keypoints_visible=conf.copy()))['keypoints']
    out_conf = np.minimum(conf[:, first], conf[:, second])
    out_ok = usable[:, first] & usable[:, second]
    xy = np.where(out_ok[..., None], xy, np.nan)
    out = np.concatenate([xy, np.where(out_ok, out_conf, 0.0)[..., None]],
                         -1)
    return out.reshape(kp.shape[:-2] + (len(table), 3))


def layout_of_metainfo(meta: Optional[Dict],
                       num_joints: int) -> Optional[str]:
    """The joint layout of a model's MMPose dataset metainfo, or None when
    unknown: COCO -> ``'coco17'``, MPII -> ``'mpii16'``, Human3.6M ->
    ``'h36m17'``, or ``'h36m16'`` for our 16-joint models
    (``h36m_16.py``); None too when ``num_joints`` does not fit."""
    name = str((meta or {}).get('dataset_name', '')).lower()
    for prefix, layout in (('coco', 'coco17'), ('mpii', 'mpii16'),
                           ('h36m', 'h36m17')):
        if name.startswith(prefix):
            if layout == 'h36m17' and num_joints == 16:
                layout = 'h36m16'
            return layout if KEYPOINT_LAYOUT_SIZES[layout] == num_joints \
                else None
    return None
