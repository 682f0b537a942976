import os
import pickle
from collections import defaultdict

import cv2
import numpy as np
import pytest
from mmpose.registry import DATASETS

from mmpose_epipolar.datasets import (
    H36M17_TO_16,
    H36MMultiViewDataset,
    parse_h36m_imgname,
)


def _sample_dataset(root, **kwargs):
    cfg = dict(
        ann_file='test_h36m_body3d.npz',
        camera_param_file='cameras.pkl',
        data_root=str(root),
        data_prefix=dict(img=''))
    cfg.update(kwargs)
    return H36MMultiViewDataset(**cfg)


# ----------------------------------------------------------------------------
# Image names
# ----------------------------------------------------------------------------
def test_parse_h36m_imgname():
    n = parse_h36m_imgname(
        'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg')
    assert tuple(n) == ('S1', 'Directions', 1, '54138969', 1)
    n = parse_h36m_imgname('S5_SittingDown.54138969_002061.jpg')
    assert tuple(n) == ('S5', 'SittingDown', 0, '54138969', 2061)
    n = parse_h36m_imgname('S11/S11_WalkDog_2.60457274_000065.jpg')
    assert (n.action, n.subaction, n.frame_idx) == ('WalkDog', 2, 65)
    for bad in ('S1_Directions_1_000001.jpg', 'Directions.54138969_1.jpg',
                'S1_Directions.54138969.jpg'):
        with pytest.raises(ValueError, match='Malformed'):
            parse_h36m_imgname(bad)


# ----------------------------------------------------------------------------
# Real Human3.6M sample with its real cameras
# ----------------------------------------------------------------------------
def test_real_sample_fields_and_depth(h36m_sample):
    ds = _sample_dataset(h36m_sample)
    # The 4 sample frames (1, 2061, 396, 26) all lie on the 5-frame grid
    # of the default train split (S1, S5, S6, S7, S8).
    assert len(ds) == 4
    raw = np.load(h36m_sample / 'test_h36m_body3d.npz')
    with open(h36m_sample / 'cameras.pkl', 'rb') as f:
        cameras = pickle.load(f)
    for i in range(len(ds)):
        d = ds[i]
        row = d['img_id']
        name = parse_h36m_imgname(raw['imgname'][row])
        assert os.path.isfile(d['img_path'])
        assert (d['subject'], d['action'], d['subaction'], d['camera_id'],
                d['frame_idx']) == tuple(name)
        assert d['bbox'].shape == (1, 4) and d['bbox_score'].shape == (1, )
        assert d['keypoints'].shape == (1, 16, 2)
        assert d['keypoints_visible'].shape == (1, 16)
        assert d['keypoints_depth'].shape == (1, 16)
        assert d['keypoints_cam'].shape == (1, 16, 3)
        assert d['dataset_name'] == 'h36m_16'

        # square box of side scale * 200 around center
        x0, y0, x1, y1 = d['bbox'][0]
        np.testing.assert_allclose([x1 - x0, y1 - y0],
                                   [raw['scale'][row] * 200] * 2, rtol=1e-5)
        np.testing.assert_allclose([(x0 + x1) / 2, (y0 + y1) / 2],
                                   raw['center'][row], rtol=1e-5)

        # 16-joint layout: H36M-17 without the spine
        part = raw['part'][row][list(H36M17_TO_16)]
        np.testing.assert_allclose(d['keypoints'][0], part[:, :2], rtol=1e-6)

        # scale-free depth from S and the camera's mean focal length
        cam = cameras[(name.subject, name.camera_id)]
        f_mean = float(np.mean(cam['f']))
        z = raw['S'][row][list(H36M17_TO_16), 2]
        expected = f_mean * (z - z[0]) / z[0]
        np.testing.assert_allclose(d['keypoints_depth'][0], expected,
                                   rtol=1e-5, atol=1e-3)
        assert d['keypoints_depth'][0, 0] == 0
        assert np.abs(d['keypoints_depth']).max() > 10  # not all zeros
        np.testing.assert_allclose(
            d['keypoints_cam'][0],
            raw['S'][row][list(H36M17_TO_16), :3] * 1000,
            rtol=1e-6)

        cp = d['camera_param']
        assert cp['intrinsics'].shape == (3, 3)
        assert cp['distortion'].shape == (5, )
        assert cp['f'].shape == (2, ) and cp['c'].shape == (2, )
        assert cp['k'].shape == (3, ) and cp['p'].shape == (2, )
        assert (cp['w'], cp['h']) == (cam['w'], cam['h'])
        np.testing.assert_array_equal(cp['R'], cam['R'])
        # OpenCV [k1, k2, p1, p2, k3] reproduces the ground-truth 2D
        uv, _ = cv2.projectPoints(d['keypoints_cam'][0].astype(np.float64),
                                  np.zeros(3), np.zeros(3), cp['intrinsics'],
                                  cp['distortion'])
        err = np.linalg.norm(uv[:, 0] - d['keypoints'][0], axis=-1)
        assert err.max() < 0.3, err.max()  # README: within 0.19 px


def test_real_sample_depth_round_trip(h36m_sample):
    """keypoints + keypoints_depth + metric root depth give back the 3D
    pose (docs/conventions.md), after undistorting the 2D."""
    ds = _sample_dataset(h36m_sample)
    for i in range(len(ds)):
        d = ds[i]
        cp = d['camera_param']
        f_mean = cp['f'].mean()
        uv = cv2.undistortPoints(
            d['keypoints'][0].astype(np.float64).reshape(-1, 1, 2),
            cp['intrinsics'], cp['distortion'], P=cp['intrinsics'])[:, 0]
        z_root = d['keypoints_cam'][0, 0, 2]
        z = z_root * (1 + d['keypoints_depth'][0] / f_mean)
        x = (uv[:, 0] - cp['c'][0]) * z / cp['f'][0]
        y = (uv[:, 1] - cp['c'][1]) * z / cp['f'][1]
        rec = np.stack([x, y, z], axis=-1)
        err = np.linalg.norm(rec - d['keypoints_cam'][0], axis=-1)
        assert err.max() < 2.0, err  # mm


def test_real_sample_splits(h36m_sample):
    # default test split: S9/S11 are not in the sample
    assert len(_sample_dataset(h36m_sample, test_mode=True)) == 0
    # every 64th frame: of frames 1 (S1) and 2061 (S5) only frame 1 is kept
    ds = _sample_dataset(h36m_sample, subjects=['S1', 'S5'],
                         frame_interval=64)
    assert [ds[i]['frame_idx'] for i in range(len(ds))] == [1]
    ds = _sample_dataset(h36m_sample, subjects=['S7', 'S8'], frame_interval=1)
    assert sorted(ds[i]['subject'] for i in range(len(ds))) == ['S7', 'S8']


def test_real_sample_h36m17_layout(h36m_sample):
    ds = _sample_dataset(h36m_sample, joint_layout='h36m17')
    d = ds[0]
    assert d['keypoints'].shape == (1, 17, 2)
    assert d['keypoints_depth'].shape == (1, 17)
    assert ds.metainfo['dataset_name'] == 'h36m'
    assert ds.metainfo['num_keypoints'] == 17
    with pytest.raises(ValueError, match='joint_layout'):
        _sample_dataset(h36m_sample, joint_layout='coco')


def _pipeline(mode='supervised'):
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(256, 256)),
        dict(
            type='PackPoseInputs',
            meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                       'input_size', 'input_center', 'input_scale',
                       'flip_indices', 'camera_param', 'view_group',
                       'subject', 'action', 'subaction', 'camera_id',
                       'frame_idx'),
            pack_transformed=True),
    ]


@pytest.mark.parametrize('mode', ['supervised', 'self_supervised'])
def test_real_sample_through_mmpose_pipeline(h36m_sample, mode):
    ds = DATASETS.build(
        dict(
            type='H36MMultiViewDataset',
            ann_file='test_h36m_body3d.npz',
            camera_param_file='cameras.pkl',
            data_root=str(h36m_sample),
            data_prefix=dict(img=''),
            mode=mode,
            pipeline=_pipeline()))
    out = ds[1]
    assert tuple(out['inputs'].shape) == (3, 256, 256)
    sample = out['data_samples']
    assert sample.subject == 'S5' and sample.action == 'SittingDown'
    assert sample.view_group == 1 and sample.camera_id == '54138969'
    np.testing.assert_allclose(sample.camera_param['f'],
                               [1145.04940459, 1143.78109572])
    assert sample.ori_shape == (1002, 1000)
    if mode == 'supervised':
        # the person's joints land inside the 256x256 crop, spread over it
        kpts = sample.gt_instances.transformed_keypoints[0]
        assert kpts.shape == (16, 2)
        assert (kpts > 0).all() and (kpts < 256).all()
        assert (kpts.max(0) - kpts.min(0)).max() > 100
    else:
        assert not sample.gt_instances.keypoints_visible.any()


# ----------------------------------------------------------------------------
# View groups on a generated folder
# ----------------------------------------------------------------------------
def test_grouping_is_exact(h36m_layout, dataset_cfg):
    missing = [('S1', 'Directions', 1, '55011271', 6),
               ('S1', 'Directions', 1, '58860488', 6),
               ('S1', 'Directions', 1, '60457274', 6),
               ('S9', 'Walking', 0, '54138969', 11)]
    layout = h36m_layout(missing=missing)
    ds = DATASETS.build(dataset_cfg(layout))
    assert len(ds) == len(layout['views']) == 2 * 2 * 4 * 3 - 4

    expected = defaultdict(set)
    for (subject, action, sub, cam, frame) in layout['views']:
        expected[(subject, action, sub, frame)].add(cam)
    assert len(ds.view_groups) == len(expected) == 12

    seen = set()
    for gid, indices in enumerate(ds.view_groups):
        infos = [ds.get_data_info(i) for i in indices]
        keys = {(d['subject'], d['action'], d['subaction'], d['frame_idx'])
                for d in infos}
        assert len(keys) == 1
        key = keys.pop()
        assert key not in seen
        seen.add(key)
        cams = [d['camera_id'] for d in infos]
        assert cams == sorted(cams)
        assert set(cams) == expected[key]
        assert all(d['view_group'] == gid for d in infos)
        # the views of a group are one world pose
        world = {
            tuple(layout['world'][(d['subject'], d['action'], d['subaction'],
                                   d['camera_id'], d['frame_idx'])].ravel())
            for d in infos
        }
        assert len(world) == 1
    # the partly missing groups
    group_sizes = sorted(len(g) for g in ds.view_groups)
    assert group_sizes == [1, 3] + [4] * 10


def test_group_mode_drops_small_groups(h36m_layout, dataset_cfg):
    missing = [('S1', 'Directions', 1, c, 6)
               for c in ('55011271', '58860488', '60457274')]
    missing += [('S9', 'Walking', 0, '54138969', 11),
                ('S9', 'Walking', 0, '55011271', 11)]
    layout = h36m_layout(missing=missing)
    flat = DATASETS.build(dataset_cfg(layout))
    assert sorted(len(g) for g in flat.view_groups) == [1, 2] + [4] * 10
    grouped = DATASETS.build(dataset_cfg(layout, group_mode=True))
    assert len(grouped) == len(flat) - 1
    assert sorted(len(g) for g in grouped.view_groups) == [2] + [4] * 10
    grouped3 = DATASETS.build(
        dataset_cfg(layout, group_mode=True, min_views=3))
    assert sorted(len(g) for g in grouped3.view_groups) == [4] * 10
    # group ids are consecutive and match view_groups
    for gid, g in enumerate(grouped3.view_groups):
        assert {grouped3.get_data_info(i)['view_group'] for i in g} == {gid}
    group = grouped3.get_view_group(0)
    assert len(group) == 4 and len({d['frame_idx'] for d in group}) == 1


def test_frame_interval_and_subjects(h36m_layout, dataset_cfg):
    layout = h36m_layout(frames=tuple(range(1, 13)))
    ds = DATASETS.build(dataset_cfg(layout, frame_interval=5))
    frames = {ds.get_data_info(i)['frame_idx'] for i in range(len(ds))}
    assert frames == {1, 6, 11}
    ds = DATASETS.build(dataset_cfg(layout, subjects=['S9'], frame_interval=1))
    assert len(ds) == 2 * 4 * 12
    assert {ds.get_data_info(i)['subject'] for i in range(len(ds))} == {'S9'}
    # defaults: train split S1, S5-S8 every 5th; test split S9, S11 every 64th
    ds = DATASETS.build(
        dataset_cfg(layout, subjects=None, frame_interval=None))
    assert len(ds) == 2 * 4 * 3
    assert {ds.get_data_info(i)['subject'] for i in range(len(ds))} == {'S1'}
    ds = DATASETS.build(
        dataset_cfg(layout, subjects=None, frame_interval=None,
                    test_mode=True))
    assert len(ds) == 2 * 4 * 1  # frame 1 of S9 only
    assert {ds.get_data_info(i)['subject'] for i in range(len(ds))} == {'S9'}


def test_subset_recomputes_groups(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    ds = DATASETS.build(dataset_cfg(layout))
    sub = ds.get_subset([0, 1, 2, 12])
    assert sum(len(g) for g in sub.view_groups) == 4
    ds.get_subset_(5)
    assert sum(len(g) for g in ds.view_groups) == 5


@pytest.mark.parametrize('serialize_data', [True, False])
def test_subset_numbers_its_own_groups(h36m_layout, dataset_cfg,
                                       serialize_data):
    ds = DATASETS.build(
        dataset_cfg(h36m_layout(), serialize_data=serialize_data))
    # S1 Walking frame 1 then S1 Directions frame 1, cameras in reverse.
    picks = ds.view_groups[3][::-1] + ds.view_groups[0][::-1]
    assert picks == [21, 18, 15, 12, 9, 6, 3, 0]
    sub = ds.get_subset(picks)
    assert sub.view_groups == [[7, 6, 5, 4], [3, 2, 1, 0]]
    assert [sub.get_data_info(i)['view_group']
            for i in range(8)] == [1] * 4 + [0] * 4
    assert [d['camera_id'] for d in sub.get_view_group(0)] == [
        '54138969', '55011271', '58860488', '60457274'
    ]
    assert sub.get_view_group(0)[0]['action'] == 'Directions'
    # The last 5 views: S9 Walking, camera 58860488 frames 6 and 11, then
    # camera 60457274 frames 1, 6 and 11.
    assert ds.get_subset(-5).view_groups == [[2], [0, 3], [1, 4]]
    ds.get_subset_(picks)
    assert ds.view_groups == [[7, 6, 5, 4], [3, 2, 1, 0]]


@pytest.mark.parametrize('serialize_data', [True, False])
def test_lazy_init_gives_the_eager_groups(h36m_layout, dataset_cfg,
                                          serialize_data):
    layout = h36m_layout(missing=[('S1', 'Directions', 1, '55011271', 6)])
    # The first 20 views: S1 Directions (11 views, one missing), then
    # S1 Walking in the first three cameras.
    cfg = dataset_cfg(layout, serialize_data=serialize_data,
                      indices=list(range(20)))
    eager = DATASETS.build(cfg)
    lazy = DATASETS.build(dict(cfg, lazy_init=True))
    lazy.full_init()
    expected = [[0, 3, 5, 8], [1, 6, 9], [2, 4, 7, 10], [11, 14, 17],
                [12, 15, 18], [13, 16, 19]]
    assert eager.view_groups == lazy.view_groups == expected
    ids = [lazy.get_data_info(i)['view_group'] for i in range(20)]
    assert ids == [eager.get_data_info(i)['view_group'] for i in range(20)]
    assert ids == [0, 1, 2, 0, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5]
    # Lazy means nothing is read before the first access.
    missing = DATASETS.build(
        dict(cfg, lazy_init=True, ann_file='annotation_body3d/nope.npz'))
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        missing.view_groups


# ----------------------------------------------------------------------------
# Self-supervised mode holds no ground truth
# ----------------------------------------------------------------------------
def test_self_supervised_never_reads_ground_truth(h36m_layout, dataset_cfg,
                                                  monkeypatch):
    layout = h36m_layout()
    accessed = []
    real_load = np.load

    class Spy:

        def __init__(self, npz):
            self.npz = npz
            self.files = npz.files

        def __getitem__(self, key):
            accessed.append(key)
            return self.npz[key]

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.npz.close()

    def spy_load(path, *args, **kwargs):
        result = real_load(path, *args, **kwargs)
        return Spy(result) if hasattr(result, 'files') else result

    monkeypatch.setattr(np, 'load', spy_load)
    ds = DATASETS.build(dataset_cfg(layout, mode='self_supervised'))
    monkeypatch.setattr(np, 'load', real_load)
    assert len(ds) == len(layout['views'])
    assert set(accessed) == {'imgname', 'center', 'scale'}

    for i in range(len(ds)):
        d = ds.get_data_info(i)
        assert 'keypoints_cam' not in d and 'keypoints_depth' not in d
        assert not d['keypoints'].any() and not d['keypoints_visible'].any()
        assert d['keypoints'].shape == (1, 16, 2)


def test_self_supervised_loads_without_3d_keys(h36m_layout, dataset_cfg):
    layout = h36m_layout(drop_keys=('S', 'part'))
    ds = DATASETS.build(dataset_cfg(layout, mode='self_supervised'))
    assert len(ds) == len(layout['views'])
    assert len(ds.view_groups) == 12
    with pytest.raises(KeyError, match=r"h36m_train.npz has no key 'part'"):
        DATASETS.build(dataset_cfg(layout, mode='supervised'))


# ----------------------------------------------------------------------------
# Errors name the file and the key
# ----------------------------------------------------------------------------
def test_missing_annotation_file(h36m_layout, dataset_cfg):
    layout = h36m_layout(write_images=False)
    with pytest.raises(FileNotFoundError, match='h36m_val.npz'):
        DATASETS.build(
            dataset_cfg(
                layout, ann_file='annotation_body3d/fps50/h36m_val.npz'))
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        DATASETS.build(dataset_cfg(layout, camera_param_file='nope.pkl'))


def test_missing_images(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    with pytest.raises(FileNotFoundError, match='imgs_missing'):
        DATASETS.build(
            dataset_cfg(layout, data_prefix=dict(img='imgs_missing/')))
    # a missing sequence folder is caught at load time
    victim = layout['img_dir'] / 'S9' / 'S9_Walking.60457274'
    for f in victim.iterdir():
        f.unlink()
    victim.rmdir()
    with pytest.raises(FileNotFoundError, match='S9_Walking.60457274'):
        DATASETS.build(dataset_cfg(layout))


def test_missing_single_image(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    gone = (layout['img_dir'] / 'S1' / 'S1_Directions_1.55011271' /
            'S1_Directions_1.55011271_000006.jpg')
    gone.unlink()
    with pytest.raises(FileNotFoundError,
                       match='S1_Directions_1.55011271_000006.jpg'):
        DATASETS.build(dataset_cfg(layout, check_images=True))
    # without the full check the image loader names the file
    ds = DATASETS.build(
        dataset_cfg(layout, pipeline=[dict(type='LoadImage')]))
    idx = [
        i for i in range(len(ds))
        if ds.get_data_info(i)['img_path'].endswith(gone.name)
    ]
    with pytest.raises(FileNotFoundError, match=gone.name):
        ds[idx[0]]


def test_missing_annotation_key(h36m_layout, dataset_cfg):
    layout = h36m_layout(drop_keys=('center', ))
    with pytest.raises(KeyError, match=r"h36m_train.npz has no key 'center'"):
        DATASETS.build(dataset_cfg(layout))


def test_bad_annotation_shape(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    path = layout['ann_file']['train']
    arrays = dict(np.load(path))
    arrays['S'] = arrays['S'][:, :16]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"h36m_train.npz: key 'S' has shape"):
        DATASETS.build(dataset_cfg(layout))


def test_unknown_camera(h36m_layout, dataset_cfg):
    layout = h36m_layout(write_images=False)
    with open(layout['camera_file'], 'rb') as f:
        cameras = pickle.load(f)
    del cameras[('S9', '58860488')]
    with open(layout['camera_file'], 'wb') as f:
        pickle.dump(cameras, f)
    with pytest.raises(KeyError) as err:
        DATASETS.build(dataset_cfg(layout))
    msg = str(err.value)
    assert "('S9', '58860488')" in msg and 'cameras.pkl' in msg
    assert 'S9_Directions_1.58860488_000001.jpg' in msg


def test_malformed_imgname(h36m_layout, dataset_cfg):
    layout = h36m_layout(write_images=False)
    path = layout['ann_file']['train']
    arrays = dict(np.load(path))
    arrays['imgname'][3] = 'S1/broken_name.jpg'
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as err:
        DATASETS.build(dataset_cfg(layout))
    assert 'h36m_train.npz' in str(err.value)
    assert 'broken_name.jpg' in str(err.value)


def test_bad_arguments(h36m_layout, dataset_cfg):
    layout = h36m_layout(write_images=False)
    with pytest.raises(ValueError, match='mode'):
        DATASETS.build(dataset_cfg(layout, mode='weakly'))
    with pytest.raises(ValueError, match='frame_interval'):
        DATASETS.build(dataset_cfg(layout, frame_interval=0))
    with pytest.raises(ValueError, match='topdown'):
        DATASETS.build(dataset_cfg(layout, data_mode='bottomup'))


def test_camera_param_is_a_copy(h36m_layout, dataset_cfg):
    layout = h36m_layout()
    ds = DATASETS.build(dataset_cfg(layout, pipeline=[]))
    a = ds.get_data_info(0)
    a['camera_param']['c'][0] = -1.
    assert ds.get_data_info(0)['camera_param']['c'][0] == 32.

