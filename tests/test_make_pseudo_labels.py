"""End to end: H36M-named multi-view 2D -> tools/make_pseudo_labels.py ->
EpipolarPseudoLabel."""
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mmpose_epipolar.datasets.transforms.epipolar_pseudo_label import (
    EpipolarPseudoLabel,
)
from mmpose_epipolar.geometry import pa_mpjpe, project_points, undistort_points

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        'make_pseudo_labels', ROOT / 'tools' / 'make_pseudo_labels.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _camera(p):
    k = np.array([[p['f'][0, 0], 0, p['c'][0, 0]],
                  [0, p['f'][1, 0], p['c'][1, 0]], [0, 0, 1]])
    d = np.array([p['k'][0, 0], p['k'][1, 0], p['p'][0, 0], p['p'][1, 0],
                  p['k'][2, 0]])
    return k, d


@pytest.fixture(scope='module')
def dataset(shared_data):
    """S1 'Directions_1' (4 cameras, 24 frames) and 'Walking' (3 cameras,
    12 frames) with 1 px noise, plus one frame seen by a single camera."""
    root = shared_data / 'mmpose-testdata' / 'h36m'
    cams = pickle.load(open(root / 'cameras.pkl', 'rb'))
    ann = json.load(open(root / 'h36m_coco.json'))
    world = np.asarray(ann['annotations'][0]['keypoints_3d']).reshape(
        17, 4)[:, :3]
    rng = np.random.default_rng(0)
    ids = sorted(c for s, c in cams if s == 'S1')
    names, kps, gt = [], [], {}
    for seq, views, nframes in (('Directions_1', ids, 24),
                                ('Walking', ids[:3], 12)):
        for fr in range(1, nframes + 1):
            rot = np.linalg.qr(np.eye(3) + 0.2 * rng.normal(size=(3, 3)))[0]
            rot *= np.sign(np.linalg.det(rot))
            pose = (world - world[0]) @ rot.T + world[0] + \
                rng.uniform(-0.5, 0.5, 3) * [1, 1, 0]
            for c in views:
                p = cams[('S1', c)]
                k, d = _camera(p)
                xc = (pose - p['T'][:, 0]) @ p['R']
                px = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                                    torch.from_numpy(d)).numpy()
                px += rng.normal(size=px.shape)
                name = f'S1/S1_{seq}.{c}/S1_{seq}.{c}_{fr:06d}.jpg'
                names.append(name)
                kps.append(np.concatenate([px, np.ones((17, 1))], -1))
                gt[name] = (xc * 1000, k)
    names.append(f'S1/S1_Walking.{ids[0]}/S1_Walking.{ids[0]}_000999.jpg')
    kps.append(kps[-1])
    return dict(imgname=np.array(names), keypoints=np.stack(kps), gt=gt,
                cameras=root / 'cameras.pkl')


@pytest.mark.parametrize('mode', ['pooled', 'per-frame'])
def test_tool_end_to_end(dataset, tmp_path, mode):
    src = tmp_path / 'preds.npz'
    np.savez(src, imgname=dataset['imgname'], keypoints=dataset['keypoints'])
    out = tmp_path / 'labels.npz'
    summary = _tool().main([str(src), str(dataset['cameras']), '--out',
                            str(out), '--mode', mode])
    assert summary['frames'] == 36 and summary['skipped_frames'] == 1
    assert summary['views'] == 24 * 4 + 12 * 3
    # Per frame, 17 joints with 1 px noise give pair poses that disagree
    # between 3-4 views (no bundle adjustment yet): many samples exceed the
    # 15 px reprojection threshold and are masked.
    if mode == 'pooled':
        assert summary['valid_fraction'] > 0.95
        assert summary['reproj_p50'] < 4.0
    else:
        assert summary['valid_fraction'] > 0.2
        assert summary['reproj_p50'] < 30.0
    assert len(summary['pairs']) == 6

    labels = np.load(out)
    assert set(labels.files) >= {'imgname', 'keypoints', 'keypoints_depth',
                                 'keypoints_visible', 'reproj_error',
                                 'valid', 'meta'}
    assert json.loads(str(labels['meta']))['mode'] == mode
    assert not any(n.endswith('_000999.jpg') for n in labels['imgname'])
    # Metric 3D from the scale-free labels (given the true root depth, as
    # the conventions prescribe) vs ground truth, per view.
    cameras = pickle.load(open(dataset['cameras'], 'rb'))
    errors = []
    for i, name in enumerate(labels['imgname']):
        if not labels['valid'][i]:
            continue
        xc, k = dataset['gt'][str(name)]
        cam = str(name).rsplit('/', 1)[1].split('.')[1].split('_')[0]
        d = _camera(cameras[('S1', cam)])[1]
        uv = undistort_points(
            torch.from_numpy(labels['keypoints'][i]).double(),
                              torch.from_numpy(k), torch.from_numpy(d),
                              normalized=True).numpy()
        f_mean = k[[0, 1], [0, 1]].mean()
        z = xc[0, 2] * (1 + labels['keypoints_depth'][i] / f_mean)
        rec = np.concatenate([uv * z[:, None], z[:, None]], -1)
        vis = labels['keypoints_visible'][i] > 0
        errors.append(pa_mpjpe(torch.from_numpy(rec), torch.from_numpy(xc),
                               torch.from_numpy(vis)).item())
    assert np.median(errors) < (25 if mode == 'pooled' else 80)

    # ... and the transform serves them by image path suffix
    t = EpipolarPseudoLabel(label_file=str(out))
    name = str(labels['imgname'][0])
    res = t(dict(img_path='/data/h36m/images/' + name, num_keypoints=17))
    assert res['keypoints'].shape == (1, 17, 2)
    assert res['keypoints_depth'].shape == (1, 17)
    assert res['keypoints_visible'].shape == (1, 17)
    np.testing.assert_allclose(res['keypoints'][0], labels['keypoints'][0],
                               rtol=1e-6)
    assert res['pseudo_label_valid'] == bool(labels['valid'][0])


def test_tool_reads_dumpresults_pickle(dataset, tmp_path):
    results = [dict(img_path='/abs/images/' + str(n),
                    pred_instances=dict(
                        keypoints=kp[None, :, :2].astype(np.float32),
                        keypoint_scores=kp[None, :, 2].astype(np.float32)))
               for n, kp in zip(dataset['imgname'], dataset['keypoints'])]
    src = tmp_path / 'preds.pkl'
    pickle.dump(results, open(src, 'wb'))
    out = tmp_path / 'labels.npz'
    summary = _tool().main([str(src), str(dataset['cameras']), '--out',
                            str(out), '--views', '4'])
    assert summary['frames'] == 24 and summary['skipped_frames'] == 13
    assert summary['valid_fraction'] > 0.95
    assert str(np.load(out)['imgname'][0]).startswith('S1/S1_Directions_1.')


def test_transform_errors_name_the_file(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        EpipolarPseudoLabel(str(tmp_path / 'nope.npz'))(
            dict(img_path='x.jpg'))
    bad = tmp_path / 'bad.npz'
    np.savez(bad, imgname=np.array(['a.jpg']))
    with pytest.raises(KeyError, match='bad.npz'):
        EpipolarPseudoLabel(str(bad))(dict(img_path='a.jpg'))
    good = tmp_path / 'good.npz'
    n = np.array(['S1/S1_A.1/S1_A.1_000001.jpg'])
    np.savez(good, imgname=n, keypoints=np.ones((1, 17, 2)),
             keypoints_depth=np.ones((1, 17)),
             keypoints_visible=np.r_[np.ones(3), np.zeros(14)][None],
             reproj_error=np.zeros((1, 17)), valid=np.array([True]))
    t = EpipolarPseudoLabel(str(good), min_valid_joints=8)
    with pytest.raises(KeyError, match=r'S1_A\.1_000002\.jpg.*good\.npz'):
        t(dict(img_path='S1/S1_A.1/S1_A.1_000002.jpg'))
    with pytest.raises(ValueError, match='good.npz'):
        t(dict(img_path=str(n[0]), num_keypoints=16))
    # only 3 valid joints < min_valid_joints: fully masked
    res = t(dict(img_path='/x/' + str(n[0])))
    assert not res['pseudo_label_valid']
    assert res['keypoints_visible'].sum() == 0
    assert (res['keypoints_depth'] == 0).all()


def test_threshold_px_reaches_the_engine_and_the_meta(dataset, tmp_path,
                                                      monkeypatch):
    import mmpose_epipolar.apis.pseudo_labels as api
    seen = []
    real = api.make_pseudo_labels

    def spy(*args, **kwargs):
        seen.append(kwargs['options'].robust.threshold_px)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, 'make_pseudo_labels', spy)
    src = tmp_path / 'preds.npz'
    np.savez(src, imgname=dataset['imgname'], keypoints=dataset['keypoints'])
    out = tmp_path / 'labels.npz'
    _tool().main([str(src), str(dataset['cameras']), '--out', str(out),
                  '--threshold-px', '2.5'])
    assert seen and set(seen) == {2.5}
    meta = json.loads(str(np.load(out)['meta']))
    assert meta['threshold_px'] == 2.5
    assert meta['engine']['robust']['threshold_px'] == 2.5


def _predictions(dataset, tmp_path, rows=slice(None), **arrays):
    src = tmp_path / 'preds.npz'
    np.savez(src, **{**dict(imgname=dataset['imgname'][rows],
                            keypoints=dataset['keypoints'][rows]),
                     **arrays})
    return str(src)


def test_no_labelled_frame_is_an_error(dataset, tmp_path):
    out = tmp_path / 'labels.npz'
    for rows in (slice(0, 0), slice(0, 1)):  # nothing; one single view
        src = _predictions(dataset, tmp_path, rows)
        with pytest.raises(ValueError, match='preds.npz'):
            _tool().main([src, str(dataset['cameras']), '--out', str(out)])
    assert not out.exists()


def test_output_path_is_checked_before_any_work(dataset, tmp_path,
                                                monkeypatch):
    import mmpose_epipolar.apis.pseudo_labels as api

    def never(*args, **kwargs):
        raise AssertionError('the engine ran before the output was checked')

    monkeypatch.setattr(api, 'make_pseudo_labels', never)
    src = _predictions(dataset, tmp_path)
    cams = str(dataset['cameras'])
    with pytest.raises(SystemExit):  # argparse: --out must end in .npz
        _tool().main([src, cams, '--out', str(tmp_path / 'labels')])
    with pytest.raises(ValueError, match='must end in .npz'):
        api.make_h36m_pseudo_labels(src, cams, str(tmp_path / 'labels'))
    missing = tmp_path / 'no' / 'such' / 'labels.npz'
    with pytest.raises(FileNotFoundError, match='no/such'):
        _tool().main([src, cams, '--out', str(missing)])


def test_written_name_is_the_given_name(dataset, tmp_path):
    out = tmp_path / 'labels.npz'
    summary = _tool().main([_predictions(dataset, tmp_path),
                            str(dataset['cameras']), '--out', str(out)])
    assert summary['out'] == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['labels.npz',
                                                          'preds.npz']


def test_object_imgname_names_the_file(dataset, tmp_path):
    src = _predictions(dataset, tmp_path,
                       imgname=dataset['imgname'].astype(object))
    with pytest.raises(ValueError, match='preds.npz'):
        _tool().main([src, str(dataset['cameras']), '--out',
                      str(tmp_path / 'labels.npz')])
