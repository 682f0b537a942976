# Copyright (c) mmpose-epipolar contributors. All rights reserved.
import math
from typing import Iterator, List, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler


@DATA_SAMPLERS.register_module()
class ViewGroupBatchSampler(BatchSampler):
    """Batches made of whole view groups (all cameras of one instant).

    Online self-supervised training needs every view of an instant in the
    same batch. This batch sampler reads the dataset's ``view_groups`` (see
    :class:`H36MMultiViewDataset`), shuffles the *groups* (not the views)
    with a generator seeded by ``(seed, epoch)``, and yields the dataset
    indices of ``batch_size`` groups at a time, each group's views
    contiguous and sorted by camera id. Usable from a config as::

        train_dataloader = dict(
            batch_size=8,  # view groups per batch
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=dict(type='ViewGroupBatchSampler', num_views=2),
            dataset=dict(type='H36MMultiViewDataset', group_mode=True, ...))

    MMEngine's ``Runner.build_dataloader`` builds it with the ``sampler``
    and ``batch_size`` of the config. The wrapped sampler only supplies the
    dataset, ``shuffle``, ``seed`` and the epoch (MMEngine's train loop
    calls ``batch_sampler.sampler.set_epoch``); its own index order is not
    used. In distributed training the groups are split among ranks.

    Args:
        sampler (Sampler): Sampler whose ``dataset`` has ``view_groups``.
        batch_size (int): Number of view groups per batch.
        num_views (int, optional): If set, take exactly this many views of
            each group (a random subset when shuffling, else the first ones)
            and skip groups with fewer views, so every batch has
            ``batch_size * num_views`` images. ``None`` takes all views.
        min_views (int): Skip groups with fewer views. Default: 2.
        drop_last (bool): Drop the last incomplete batch. Default: False.
        shuffle (bool, optional): Overrides ``sampler.shuffle``.
        seed (int, optional): Overrides ``sampler.seed``.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 num_views: Optional[int] = None,
                 min_views: int = 2,
                 drop_last: bool = False,
                 shuffle: Optional[bool] = None,
                 seed: Optional[int] = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive int, got '
                             f'{batch_size!r}')
        if num_views is not None and num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        dataset = getattr(sampler, 'dataset', None)
        if dataset is None or not hasattr(dataset, 'view_groups'):
            raise TypeError(
                f'{self.__class__.__name__} needs a sampler whose dataset has '
                f'`view_groups` (e.g. H36MMultiViewDataset), got dataset '
                f'{type(dataset).__name__}')
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_views = num_views
        self.min_views = max(min_views, num_views or 1)
        self.drop_last = drop_last
        self.shuffle = (
            getattr(sampler, 'shuffle', True) if shuffle is None else shuffle)
        if seed is None:
            seed = getattr(sampler, 'seed', None)
        self.seed = sync_random_seed() if seed is None else int(seed)
        self._epoch = 0
        self.rank, self.world_size = get_dist_info()

    @property
    def epoch(self) -> int:
        return getattr(self.sampler, 'epoch', self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (also on the wrapped sampler, if it has one)."""
        self._epoch = epoch
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)

    def _eligible_groups(self) -> List[List[int]]:
        return [
            list(g) for g in self.dataset.view_groups
            if len(g) >= self.min_views
        ]

    def _groups_of_this_rank(self) -> int:
        n = len(self._eligible_groups())
        return math.ceil((n - self.rank) / self.world_size) if n > 0 else 0

    def __iter__(self) -> Iterator[List[int]]:
        groups = self._eligible_groups()
        rng = np.random.default_rng([self.seed, self.epoch])
        order = (
            rng.permutation(len(groups))
            if self.shuffle else np.arange(len(groups)))
        order = order[self.rank::self.world_size]
        batch: List[int] = []
        in_batch = 0
        for g in order:
            views = groups[g]
            if self.num_views is not None:
                if self.shuffle:
                    pick = np.sort(
                        rng.choice(len(views), self.num_views, replace=False))
                    views = [views[i] for i in pick]
                else:
                    views = views[:self.num_views]
            batch.extend(views)
            in_batch += 1
            if in_batch == self.batch_size:
                yield batch
                batch, in_batch = [], 0
        if in_batch > 0 and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = self._groups_of_this_rank()
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)
