# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .h36m_multiview_dataset import H36MMultiViewDataset
from .h36m_utils import (
    H36MImageName,
    h36m_camera_to_param,
    parse_h36m_imgname,
)
from .joint_layouts import (
    H36M17_TO_16,
    MPII_TO_H36M16,
    MPII_TO_H36M16_CONVERTER,
    keypoint_converter_mapping,
)
from .occluder_bank import (
    coco_person_occluders,
    load_occluder_bank,
    mask_to_rgba,
    polygons_to_mask,
    save_occluder_bank,
)
from .synthetic_multiview_dataset import SyntheticMultiViewDataset
from .transforms import *  # noqa: F401,F403
from .view_group_sampler import ViewGroupBatchSampler

__all__ = [
    'H36MMultiViewDataset', 'SyntheticMultiViewDataset',
    'ViewGroupBatchSampler', 'H36MImageName', 'parse_h36m_imgname',
    'h36m_camera_to_param', 'H36M17_TO_16',
    'MPII_TO_H36M16', 'MPII_TO_H36M16_CONVERTER',
    'keypoint_converter_mapping', 'coco_person_occluders',
    'load_occluder_bank', 'mask_to_rgba', 'polygons_to_mask',
    'save_occluder_bank'
]
