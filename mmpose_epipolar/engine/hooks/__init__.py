# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from .progress_bar_hook import ProgressBarHook
from .pseudo_label_hook import PseudoLabelHook
from .unreadable_image_hook import UnreadableImageHook

__all__ = ['ProgressBarHook', 'PseudoLabelHook', 'UnreadableImageHook']
