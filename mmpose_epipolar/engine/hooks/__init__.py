# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .pseudo_label_hook import PseudoLabelHook
from .unreadable_image_hook import UnreadableImageHook

__all__ = ['PseudoLabelHook', 'UnreadableImageHook']
