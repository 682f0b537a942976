# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .synthetic_occlusion import SyntheticOcclusion

__all__ = ['SyntheticOcclusion']
