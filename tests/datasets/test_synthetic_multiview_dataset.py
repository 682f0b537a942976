import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.runner import Runner
from mmpose.registry import DATASETS

from mmpose_epipolar.datasets import SyntheticMultiViewDataset

SMALL = dict(
    train_subjects=('S1', 'S5'),
    test_subjects=('S9', ),
    actions=('Directions', 'Walking'),
    frames_per_sequence=3)


def test_calls_generator_then_reads_layout(write_layout, tmp_path,
                                           monkeypatch):
    """The wrapper's contract with the generator, with a stand-in one."""
    calls = []

    def fake_generate(out_dir, **kwargs):
        calls.append((out_dir, kwargs))
        write_layout(
            Path(out_dir),
            subjects=('S1', 'S9'),
            split_subjects={'train': ['S1'], 'test': ['S9']})
        return dict(
            root=out_dir,
            ann_file_rel=dict(
                train='annotation_body3d/fps50/h36m_train.npz',
                test='annotation_body3d/fps50/h36m_test.npz'),
            params=dict(train_subjects=['S1'], test_subjects=['S9']))

    fake = types.ModuleType('mmpose_epipolar.datasets.synthetic')
    fake.generate_synthetic_h36m = fake_generate
    monkeypatch.setitem(sys.modules, 'mmpose_epipolar.datasets.synthetic',
                        fake)
    root = tmp_path / 'cache'
    ds = SyntheticMultiViewDataset(
        data_root=str(root), seed=7, image_size=64,
        generator_cfg=dict(frames_per_sequence=3))
    assert calls == [(str(root), dict(seed=7, image_size=64,
                                      frames_per_sequence=3))]
    # frame_interval defaults to 1: all 3 frames x 2 sequences x 4 cameras
    assert len(ds) == 24 and len(ds.view_groups) == 6
    assert {ds.get_data_info(i)['subject'] for i in range(len(ds))} == {'S1'}


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    pytest.importorskip('mmpose_epipolar.datasets.synthetic')
    return str(tmp_path_factory.mktemp('synthetic') / 'synthetic_h36m')


def _build(root, **kwargs):
    return DATASETS.build(
        dict(
            type='SyntheticMultiViewDataset',
            data_root=root,
            seed=1,
            image_size=64,
            generator_cfg=SMALL,
            **kwargs))


def test_real_generator_splits_and_geometry(synthetic_root):
    train = _build(synthetic_root)
    assert train.generated['reused'] in (True, False)
    assert len(train) == 2 * 2 * 3 * 4
    assert [len(g) for g in train.view_groups] == [4] * 12
    test = _build(synthetic_root, test_mode=True, mode='test')
    assert test.generated['reused'] is True  # cached folder reused
    assert len(test) == 2 * 3 * 4
    assert {test.get_data_info(i)['subject']
            for i in range(len(test))} == {'S9'}

    for group in train.view_groups[:3]:
        worlds = []
        for d in (train.get_data_info(i) for i in group):
            cp = d['camera_param']
            assert (cp['w'], cp['h']) == (64, 64)
            x_cam = d['keypoints_cam'][0].astype(np.float64)  # mm
            # the 2D is the distorted projection of the 3D
            uv, _ = cv2.projectPoints(x_cam, np.zeros(3), np.zeros(3),
                                      cp['intrinsics'], cp['distortion'])
            assert np.abs(uv[:, 0] - d['keypoints'][0]).max() < 0.01
            # scale-free depth, root at 0
            z = x_cam[:, 2]
            np.testing.assert_allclose(
                d['keypoints_depth'][0],
                cp['f'].mean() * (z - z[0]) / z[0], rtol=1e-4, atol=1e-3)
            # all views of a group are one world pose (X = R X_cam + T)
            worlds.append((cp['R'] @ (x_cam / 1000.).T).T + cp['T'])
        for w in worlds[1:]:
            assert np.abs(w - worlds[0]).max() < 1e-4  # metres


def test_real_generator_dataloader(synthetic_root):
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(64, 64)),
        dict(
            type='PackPoseInputs',
            meta_keys=('img_path', 'camera_param', 'view_group',
                       'subject', 'action')),
    ]
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=dict(type='ViewGroupBatchSampler', num_views=2),
            dataset=dict(
                type='SyntheticMultiViewDataset',
                data_root=synthetic_root,
                seed=1,
                image_size=64,
                generator_cfg=SMALL,
                mode='self_supervised',
                group_mode=True,
                pipeline=pipeline)),
        seed=0)
    batches = list(loader)
    assert len(batches) == 6
    for batch in batches:
        groups = [s.view_group for s in batch['data_samples']]
        assert groups[0] == groups[1] != groups[2] == groups[3]
        assert all(x.shape == (3, 64, 64) for x in batch['inputs'])
        assert all(x.float().std() > 5 for x in batch['inputs'])  # not blank
