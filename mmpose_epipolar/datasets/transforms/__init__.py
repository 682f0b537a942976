# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .epipolar_pseudo_label import EpipolarPseudoLabel
from .keypoint_depth import AttachKeypointDepth
from .loading import LoadImageOrSkip, jpeg_truncation
from .random_bbox_transform import (
    FastRandomBBoxTransform,
    truncated_standard_normal,
)
from .synthetic_occlusion import SyntheticOcclusion
from .topdown_affine import ContiguousTopdownAffine

__all__ = [
    'AttachKeypointDepth', 'ContiguousTopdownAffine', 'EpipolarPseudoLabel',
    'FastRandomBBoxTransform', 'LoadImageOrSkip', 'SyntheticOcclusion',
    'jpeg_truncation', 'truncated_standard_normal'
]
