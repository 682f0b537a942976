# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .epipolar_pseudo_label import EpipolarPseudoLabel
from .keypoint_depth import AttachKeypointDepth
from .loading import LoadImageOrSkip, jpeg_truncation
from .synthetic_occlusion import SyntheticOcclusion

__all__ = [
    'AttachKeypointDepth', 'EpipolarPseudoLabel', 'LoadImageOrSkip',
    'SyntheticOcclusion', 'jpeg_truncation'
]
