# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""A progress bar over a whole training run."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from mmpose.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show MMEngine's :class:`~mmengine.utils.ProgressBar` over all the
    training iterations of a run, on the main process (the logger's lines
    still come at their interval; the bar gives the elapsed time, the rate
    and the time left between them).

    A resumed run starts the bar at the iteration it resumes from.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar: Optional[ProgressBar] = None

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        self._bar = ProgressBar(runner.max_iters)
        self._bar.completed = runner.iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._bar is not None:
            self._bar.update()

    def after_train(self, runner) -> None:
        if self._bar is not None:
            self._bar.file.write('\n')
            self._bar.file.flush()
            self._bar = None
