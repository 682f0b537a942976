from collections import Counter

import numpy as np
import pytest
import torch
from mmengine.registry import DATA_SAMPLERS
from mmengine.runner import Runner
from mmpose.registry import DATASETS

from mmpose_epipolar.datasets import ViewGroupBatchSampler

MISSING = [('S1', 'Directions', 1, '55011271', 6),
           ('S9', 'Walking', 0, '54138969', 11),
           ('S9', 'Walking', 0, '55011271', 11),
           ('S9', 'Walking', 0, '58860488', 11)]


def _loader_cfg(dataset, batch_size=3, seed_shuffle=True, **sampler_kwargs):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=seed_shuffle),
        batch_sampler=dict(type='ViewGroupBatchSampler', **sampler_kwargs),
        dataset=dataset)


def _group_of(ds):
    return {i: g for g, idx in enumerate(ds.view_groups) for i in idx}


def _batches(loader):
    return [list(b) for b in loader.batch_sampler]


def test_batches_are_whole_shuffled_groups(h36m_layout, dataset_cfg):
    layout = h36m_layout(missing=MISSING)
    loader = Runner.build_dataloader(
        _loader_cfg(dataset_cfg(layout, group_mode=True)), seed=3)
    assert isinstance(loader.batch_sampler, ViewGroupBatchSampler)
    ds = loader.dataset
    group_of = _group_of(ds)
    # the 1-view group (S9 Walking frame 11) is dropped by group_mode
    assert sorted(len(g) for g in ds.view_groups) == [3] + [4] * 10

    batches = _batches(loader)
    assert len(batches) == len(loader.batch_sampler) == 4  # ceil(11 / 3)
    used = Counter()
    for batch in batches:
        groups = [group_of[i] for i in batch]
        # each group's views are contiguous and complete
        runs = [
            g for k, g in enumerate(groups)
            if k == 0 or g != groups[k - 1]
        ]
        assert len(runs) == len(set(runs))
        for g in set(groups):
            assert sorted(i for i in batch
                          if group_of[i] == g) == ds.view_groups[g]
        used.update(set(groups))
    assert sorted(used) == list(range(11)) and set(used.values()) == {1}
    assert [len({group_of[i] for i in b}) for b in batches] == [3, 3, 3, 2]
    # shuffled by group (not in dataset order), deterministic by seed
    again = Runner.build_dataloader(
        _loader_cfg(dataset_cfg(layout, group_mode=True)), seed=3)
    assert _batches(again) == batches
    other = Runner.build_dataloader(
        _loader_cfg(dataset_cfg(layout, group_mode=True)), seed=4)
    assert _batches(other) != batches
    flat = [group_of[i] for b in batches for i in b]
    assert flat != sorted(flat)
    # a new epoch reshuffles (MMEngine calls batch_sampler.sampler.set_epoch)
    loader.batch_sampler.sampler.set_epoch(1)
    assert _batches(loader) != batches


def test_fixed_number_of_views(h36m_layout, dataset_cfg):
    layout = h36m_layout(missing=MISSING)
    loader = Runner.build_dataloader(
        _loader_cfg(dataset_cfg(layout, group_mode=True), batch_size=2,
                    num_views=2, drop_last=True), seed=0)
    ds = loader.dataset
    group_of = _group_of(ds)
    batches = _batches(loader)
    assert len(batches) == len(loader.batch_sampler) == 5  # 11 // 2
    for batch in batches:
        assert len(batch) == 4
        g = [group_of[i] for i in batch]
        assert g[0] == g[1] and g[2] == g[3] and g[0] != g[2]
        cams = [ds.get_data_info(i)['camera_id'] for i in batch]
        assert cams[0] < cams[1] and cams[2] < cams[3]
    # views are a random choice within the group
    chosen = {tuple(b[:2]) for b in batches}
    assert len(chosen) == 5
    # num_views=4 skips the 3-view group
    sampler = ViewGroupBatchSampler(
        loader.batch_sampler.sampler, batch_size=100, num_views=4)
    (only, ) = list(sampler)
    assert len(only) == 40


def test_collate_with_pipeline(h36m_layout, dataset_cfg):
    layout = h36m_layout(missing=MISSING)
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(64, 64)),
        dict(
            type='PackPoseInputs',
            meta_keys=('img_path', 'camera_param', 'view_group', 'subject',
                       'camera_id')),
    ]
    for collate in (None, dict(type='default_collate')):
        cfg = _loader_cfg(
            dataset_cfg(layout, group_mode=True, pipeline=pipeline),
            batch_size=2, num_views=2)
        if collate is not None:
            cfg['collate_fn'] = collate
        loader = Runner.build_dataloader(cfg, seed=1)
        batch = next(iter(loader))
        samples = batch['data_samples']
        assert len(samples) == 4
        groups = [s.view_group for s in samples]
        assert groups[0] == groups[1] != groups[2] == groups[3]
        if collate is None:  # pseudo_collate: a list of tensors
            assert [tuple(x.shape) for x in batch['inputs']] == [(3, 64,
                                                                  64)] * 4
        else:
            assert tuple(batch['inputs'].shape) == (4, 3, 64, 64)
            assert batch['inputs'].dtype == torch.uint8


def test_no_shuffle_keeps_group_order(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    ds = DATASETS.build(dataset_cfg(layout, group_mode=True))
    sampler = DATA_SAMPLERS.build(
        dict(type='DefaultSampler', dataset=ds, shuffle=False, seed=0))
    bs = ViewGroupBatchSampler(sampler, batch_size=5)
    flat = [i for b in bs for i in b]
    assert flat == [i for g in ds.view_groups for i in g]


def test_rejects_dataset_without_groups():
    sampler = DATA_SAMPLERS.build(
        dict(type='DefaultSampler', dataset=list(range(4)), seed=0))
    with pytest.raises(TypeError, match='view_groups'):
        ViewGroupBatchSampler(sampler, batch_size=2)
    with pytest.raises(ValueError, match='batch_size'):
        ViewGroupBatchSampler(sampler, batch_size=0)


def test_distributed_split(h36m_layout, dataset_cfg, monkeypatch):
    import mmpose_epipolar.datasets.view_group_sampler as mod
    layout = h36m_layout(missing=MISSING)
    ds = DATASETS.build(dataset_cfg(layout, group_mode=True))
    sampler = DATA_SAMPLERS.build(
        dict(type='DefaultSampler', dataset=ds, shuffle=True, seed=7))
    seen = []
    for rank in (0, 1):
        monkeypatch.setattr(mod, 'get_dist_info', lambda r=rank: (r, 2))
        bs = ViewGroupBatchSampler(sampler, batch_size=2)
        batches = list(bs)
        assert len(batches) == len(bs)
        seen.append({i for b in batches for i in b})
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(len(ds)))
    assert np.isclose(len(seen[0]), len(seen[1]), atol=4)
