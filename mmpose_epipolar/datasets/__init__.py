# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .calibration import (
    CalibrationError,
    CameraCalibration,
    load_calibration,
    save_calibration_toml,
    scale_rig,
)
from .footage_multiview_dataset import (
    FootageMultiViewDataset,
    FootageViewsError,
    load_footage_views,
    save_footage_views,
)
from .h36m_multiview_dataset import H36MMultiViewDataset
from .h36m_utils import (
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    H36MImageName,
    h36m_camera_to_param,
    parse_h36m_imgname,
)
from .joint_layouts import (
    COCO17_TO_H36M16,
    COCO17_TO_H36M16_CONVERTER,
    H36M17_TO_16,
    MPII_TO_H36M16,
    MPII_TO_H36M16_CONVERTER,
    convert_keypoints,
    keypoint_converter_mapping,
)
from .keypoint_files import KeypointFileError, KeypointSequence, load_keypoints
from .occluder_bank import (
    coco_person_occluders,
    load_occluder_bank,
    mask_to_rgba,
    polygons_to_mask,
    save_occluder_bank,
)
from .recording import RecordingError, RecordingIndex, index_recording
from .synthetic_multiview_dataset import SyntheticMultiViewDataset
from .transforms import *  # noqa: F401,F403
from .view_group_sampler import ViewGroupBatchSampler

__all__ = [
    'CameraCalibration', 'CalibrationError', 'load_calibration',
    'save_calibration_toml', 'scale_rig', 'COCO17_TO_H36M16',
    'COCO17_TO_H36M16_CONVERTER', 'convert_keypoints', 'KeypointSequence',
    'KeypointFileError', 'load_keypoints', 'RecordingIndex',
    'RecordingError', 'index_recording',
    'H36MMultiViewDataset', 'SyntheticMultiViewDataset',
    'FootageMultiViewDataset', 'FootageViewsError', 'load_footage_views',
    'save_footage_views',
    'ViewGroupBatchSampler', 'H36MImageName', 'parse_h36m_imgname',
    'H36M_TRAIN_SUBJECTS', 'H36M_TEST_SUBJECTS',
    'h36m_camera_to_param', 'H36M17_TO_16',
    'MPII_TO_H36M16', 'MPII_TO_H36M16_CONVERTER',
    'keypoint_converter_mapping', 'coco_person_occluders',
    'load_occluder_bank', 'mask_to_rgba', 'polygons_to_mask',
    'save_occluder_bank'
]
