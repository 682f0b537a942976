# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Log, count and limit the images that ``LoadImageOrSkip`` leaves out."""
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Set, Tuple

import torch
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from ...datasets.transforms.loading import UNREADABLE_KEY, LoadImageOrSkip

#: ``(img_path, reason)`` of an image that could not be read.
Skip = Tuple[str, str]


@HOOKS.register_module()
class UnreadableImageHook(Hook):
    """Report the images :class:`LoadImageOrSkip` could not read.

    The loading transform runs in the DataLoader workers, which are other
    processes; it sends what it left out inside the samples themselves (the
    meta key ``unreadable_images``), so this hook, in the main process,
    reads it from every batch:

    - training: each unreadable path is logged once per run (at its first
      skip) with the reason, the epoch's skips are counted and logged at
      its end, and the run stops with an error naming the count and some
      paths as soon as an epoch has skipped more than ``max_skip_ratio`` of
      its samples (a broken copy of a dataset should not train on).
    - validation and test: the stand-ins of unreadable images are taken out
      of each batch before the model runs, so every metric is computed on
      the readable samples only; after the metric line the hook logs how
      many samples the metrics cover and names each file left out (all of
      them also go to ``unreadable_{val,test}_images.txt`` in the log
      folder). A batch of stand-ins only still goes through the model
      (MMPose's data preprocessor cannot take an empty batch), and what the
      metrics recorded of it is discarded.

    It also checks, before each loop, that its pipeline's
    ``LoadImageOrSkip`` has the loop's ``test_mode`` and that the packing
    transform keeps ``unreadable_images`` in its ``meta_keys``.

    In distributed runs each rank counts its own share against
    ``max_skip_ratio``, and the end-of-epoch counts are summed over ranks.
    The counts are per epoch of an epoch-based loop; an iteration-based
    loop counts its whole run as one epoch of ``len(dataset)`` samples.

    Args:
        max_skip_ratio (float): Largest fraction of an epoch's samples that
            may be skipped. Defaults to 0.01.
        max_listed (int): Paths named in a log message or error. Defaults
            to 10.
    """

    # After LoggerHook (BELOW_NORMAL): the evaluation report follows the
    # metric line it qualifies.
    priority = 'LOW'

    def __init__(self, max_skip_ratio: float = 0.01,
                 max_listed: int = 10) -> None:
        if not 0 <= max_skip_ratio <= 1:
            raise ValueError('UnreadableImageHook: max_skip_ratio must lie '
                             f'in [0, 1], got {max_skip_ratio}')
        self.max_skip_ratio = max_skip_ratio
        self.max_listed = max_listed
        self._logged: Set[str] = set()
        self._epoch_skips: List[Skip] = []
        self._left_out: List[Skip] = []
        # Length of each metric's results before a batch of stand-ins only.
        self._results_sizes: Optional[List[int]] = None

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        _check_pipelines(runner.train_dataloader.dataset, 'train_dataloader',
                         test_mode=False)

    def before_train_epoch(self, runner) -> None:
        self._epoch_skips = []

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        skips = [
            skip for sample in _data_samples(data_batch)
            for skip in sample.metainfo.get(UNREADABLE_KEY, ())
        ]
        for path, reason in skips:
            if path not in self._logged:
                self._logged.add(path)
                runner.logger.warning(
                    f'Skipped an unreadable training image ({reason}): '
                    f'{path}')
        self._epoch_skips += skips
        epoch_size = len(runner.train_dataloader.dataset)
        limit = self.max_skip_ratio * epoch_size / get_world_size()
        if len(self._epoch_skips) > limit:
            raise RuntimeError(
                f'{len(self._epoch_skips)} training samples of epoch '
                f'{runner.epoch + 1} were skipped because their images could '
                f'not be read, more than max_skip_ratio='
                f'{self.max_skip_ratio} of the epoch\'s {epoch_size} samples '
                f'allows: {self._listing(self._epoch_skips)}. Repair or '
                'remove these files, or raise UnreadableImageHook\'s '
                'max_skip_ratio in custom_hooks')

    def after_train_epoch(self, runner) -> None:
        total = sum(all_gather_object(len(self._epoch_skips)))
        if total:
            epoch_size = len(runner.train_dataloader.dataset)
            runner.logger.warning(
                f'Epoch {runner.epoch + 1}: skipped {total} of {epoch_size} '
                f'training samples ({total / epoch_size:.2%}; limit '
                f'{self.max_skip_ratio:.2%}) for unreadable images, replaced '
                'by other samples')

    # ------------------------------------------------------------------
    # Validation and test
    # ------------------------------------------------------------------
    def before_val(self, runner) -> None:
        _check_pipelines(runner.val_dataloader.dataset, 'val_dataloader',
                         test_mode=True)

    def before_test(self, runner) -> None:
        _check_pipelines(runner.test_dataloader.dataset, 'test_dataloader',
                         test_mode=True)

    def before_val_epoch(self, runner) -> None:
        self._left_out = []

    def before_test_epoch(self, runner) -> None:
        self._left_out = []

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None) -> None:
        self._drop_stand_ins(runner.val_evaluator, data_batch)

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None) -> None:
        self._drop_stand_ins(runner.test_evaluator, data_batch)

    def after_val_iter(self, runner, batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        self._discard_results(runner.val_evaluator)

    def after_test_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        self._discard_results(runner.test_evaluator)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._report(runner, 'val', len(runner.val_dataloader.dataset))

    def after_test_epoch(self, runner,
                         metrics: Optional[dict] = None) -> None:
        self._report(runner, 'test', len(runner.test_dataloader.dataset))

    def _drop_stand_ins(self, evaluator, data_batch: Optional[dict]) -> None:
        """Take the stand-ins of unreadable images out of ``data_batch``
        (in place: the loop passes the same dict to the model and to the
        evaluator)."""
        samples = list(_data_samples(data_batch))
        bad = [
            i for i, s in enumerate(samples) if s.metainfo.get(UNREADABLE_KEY)
        ]
        if not bad:
            return
        for i in bad:
            self._left_out += samples[i].metainfo[UNREADABLE_KEY]
        keep = [i for i in range(len(samples)) if i not in set(bad)]
        if not keep:
            self._results_sizes = [len(m.results) for m in evaluator.metrics]
            return
        for key in ('inputs', 'data_samples'):
            value = data_batch[key]
            data_batch[key] = value[keep] if isinstance(
                value, torch.Tensor) else [value[i] for i in keep]

    def _discard_results(self, evaluator) -> None:
        if self._results_sizes is None:
            return
        for metric, size in zip(evaluator.metrics, self._results_sizes):
            del metric.results[size:]
        self._results_sizes = None

    def _report(self, runner, loop: str, size: int) -> None:
        left_out = [s for part in all_gather_object(self._left_out)
                    for s in part]
        if not left_out:
            return
        if is_main_process():
            listing = osp.join(runner.log_dir,
                               f'unreadable_{loop}_images.txt')
            with open(listing, 'w') as f:
                f.writelines(f'{p}\t{r}\n' for p, r in left_out)
            runner.logger.warning(
                f'{loop}: the metrics are over {size - len(left_out)} of the '
                f'{size} samples, {len(left_out)} left out as unreadable (all '
                f'listed in {listing}): {self._listing(left_out)}')

    def _listing(self, skips: Sequence[Skip]) -> str:
        shown = '; '.join(f'{p} ({r})' for p, r in skips[:self.max_listed])
        more = len(skips) - self.max_listed
        return shown + (f'; and {more} more' if more > 0 else '')


def _data_samples(data_batch: Optional[dict]) -> Iterator:
    """The data samples of a collated batch (none for other batches)."""
    if isinstance(data_batch, dict):
        yield from data_batch.get('data_samples') or ()


def _pipelines(dataset) -> Iterator[list]:
    """The transform lists of a dataset and of the datasets it wraps."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms',
                         None)
    if transforms is not None:
        yield transforms
    inner = [getattr(dataset, 'dataset', None)]
    inner += list(getattr(dataset, 'datasets', None) or ())
    for child in inner:
        if child is not None:
            yield from _pipelines(child)


def _check_pipelines(dataset, loader: str, test_mode: bool) -> None:
    """Refuse, before a loop starts, a ``LoadImageOrSkip`` whose unreadable
    images would go unseen: wrong ``test_mode`` or not packed."""
    for transforms in _pipelines(dataset):
        loaders = [t for t in transforms if isinstance(t, LoadImageOrSkip)]
        if not loaders:
            continue
        where = f'{loader}.dataset.pipeline'
        if any(t.test_mode != test_mode for t in loaders):
            use = ('stand-ins (test_mode=True)' if test_mode else
                   'skipping (test_mode=False)')
            raise ValueError(
                f'{where}: LoadImageOrSkip needs test_mode={test_mode} in a '
                f'{"validation/test" if test_mode else "training"} loop '
                f'({use})')
        for t in transforms:
            meta_keys = getattr(t, 'meta_keys', None)
            if meta_keys is not None and UNREADABLE_KEY not in meta_keys:
                raise ValueError(
                    f'{where}: {type(t).__name__}.meta_keys lacks '
                    f"'{UNREADABLE_KEY}', through which LoadImageOrSkip "
                    'reports unreadable images')
