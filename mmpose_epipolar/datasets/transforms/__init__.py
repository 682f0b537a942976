# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .epipolar_pseudo_label import EpipolarPseudoLabel
from .keypoint_depth import AttachKeypointDepth
from .loading import DecodedImageCache, LoadImageOrSkip, jpeg_truncation
from .random_bbox_transform import (
    FastRandomBBoxTransform,
    truncated_standard_normal,
)
from .synthetic_occlusion import SyntheticOcclusion
from .topdown_affine import ContiguousTopdownAffine, contiguous_image

__all__ = [
    'AttachKeypointDepth', 'ContiguousTopdownAffine', 'DecodedImageCache',
    'EpipolarPseudoLabel', 'FastRandomBBoxTransform', 'LoadImageOrSkip',
    'SyntheticOcclusion', 'contiguous_image', 'jpeg_truncation',
    'truncated_standard_normal'
]
