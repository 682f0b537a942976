# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .keypoint_depth import AttachKeypointDepth
from .synthetic_occlusion import SyntheticOcclusion

__all__ = ['AttachKeypointDepth', 'SyntheticOcclusion']
