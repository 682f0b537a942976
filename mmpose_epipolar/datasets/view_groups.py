# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""View groups of a multi-view dataset: the views of one instant seen by
several cameras, kept right through MMEngine's ``get_subset``."""
from collections import defaultdict
from typing import Dict, Hashable, List, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init


def group_key(data_info: dict) -> Hashable:
    return (data_info['subject'], data_info['action'],
            data_info['subaction'], data_info['frame_idx'])


def subset_of(items: Sequence, indices: Union[Sequence[int], int]) -> list:
    """The items MMEngine's ``indices`` select: the first ``indices`` (the
    last ones if negative) or those at the given positions."""
    if isinstance(indices, int):
        return list(items[:indices] if indices >= 0 else items[indices:])
    return [items[i] for i in indices]


def number_view_groups(
    views: Sequence[Tuple[Hashable, Hashable]]
) -> Tuple[List[List[int]], np.ndarray, np.ndarray]:
    """Group views by instant.

    Args:
        views (Sequence[tuple]): Per view, its instant (sortable) and its
            order among the views of the instant.

    Returns:
        tuple:
        - groups (list[list[int]]): View indices of each group; groups
          sorted by instant, views by their order.
        - ids (np.ndarray): Group id (position in ``groups``) of each view,
          shape (N,).
        - ranks (np.ndarray): Position of each view in its group, (N,).
    """
    members: Dict[Hashable, List[int]] = defaultdict(list)
    for i, (instant, _) in enumerate(views):
        members[instant].append(i)
    groups = [
        sorted(indices, key=lambda i: views[i][1])
        for _, indices in sorted(members.items())
    ]
    ids, ranks = [0] * len(views), [0] * len(views)
    for gid, indices in enumerate(groups):
        for rank, i in enumerate(indices):
            ids[i], ranks[i] = gid, rank
    return groups, np.asarray(ids, np.int64), np.asarray(ranks, np.int64)


class MultiViewGroupsMixin:
    """``view_groups`` and ``get_view_group`` of a multi-view dataset whose
    views carry ``subject``, ``action``, ``subaction``, ``frame_idx`` and
    ``camera_id``: views of the same ``group_key`` form a group, sorted
    by camera id, kept right through ``get_subset``.

    The dataset calls :meth:`_group_views` whenever its views change (in
    ``filter_data``, before MMEngine serialises them).
    """

    def _init_view_groups(self) -> None:
        """No groups yet (call in ``__init__``, before MMEngine's)."""
        self._view_groups: List[List[int]] = []
        self._view_group_ids = np.zeros(0, dtype=np.int64)
        self._view_ranks = np.zeros(0, dtype=np.int64)

    @property
    @force_full_init
    def view_groups(self) -> List[List[int]]:
        """Dataset indices of each view group, ordered by group id.

        Group ids are ``0..G-1`` and ``view_groups[g]`` holds the views
        whose ``view_group == g``, sorted by camera id; subsets number their
        own groups.
        """
        return self._view_groups

    def get_view_group(self, group_index: int) -> List[dict]:
        """Data infos (with cameras) of all views of one group.

        Args:
            group_index (int): Position in :attr:`view_groups`.

        Returns:
            list[dict]: One data info per view, sorted by camera id.
        """
        return [self.get_data_info(i) for i in self.view_groups[group_index]]

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        super().get_subset_(indices)  # leaves the groups as they were
        self._group_views(self._views_kept(indices))

    def get_subset(self, indices: Union[Sequence[int], int]) -> BaseDataset:
        subset = super().get_subset(indices)
        subset._group_views(self._views_kept(indices))
        return subset

    def _views_kept(self, indices: Union[Sequence[int], int]
                    ) -> List[Tuple[int, int]]:
        """``(group id, place in the group)`` of the views a subset keeps:
        the order of this dataset's groups and of the views in them."""
        kept = subset_of(range(len(self._view_group_ids)), indices)
        return [(int(self._view_group_ids[i]), int(self._view_ranks[i]))
                for i in kept]

    def _group_views(self, views: Sequence[Tuple[Hashable,
                                                   Hashable]]) -> None:
        """Number the view groups.

        Args:
            views (Sequence[tuple]): Per view, its instant and its order
                among the views of the instant (the camera id).
        """
        groups, ids, ranks = number_view_groups(views)
        self._view_groups = groups
        self._view_group_ids = ids
        self._view_ranks = ranks

    def _view_group_id(self, idx: int) -> int:
        return int(self._view_group_ids[idx])
