"""FootageMultiViewDataset and its views file on the real Pose2Sim
recording (four real cameras, the frames decoded from the real videos,
person boxes from MediaPipe's real 2D), and a short self-supervised
training of the CPU footage config through tools/train.py on those views,
with epipolar pseudo-labels of the same 2D and synthetic occlusion."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpose.registry import DATASETS, MODELS

from mmpose_epipolar.apis.pseudo_labels import (
    build_pseudo_labels,
    dataset_camera_sets,
    labelled_rows,
)
from mmpose_epipolar.datasets import (
    coco_person_occluders,
    convert_keypoints,
    load_calibration,
    save_calibration_toml,
    save_occluder_bank,
)
from mmpose_epipolar.datasets.footage_multiview_dataset import (
    FootageMultiViewDataset,
    FootageViewsError,
    load_footage_views,
    save_footage_views,
)
from mmpose_epipolar.datasets.pseudo_label_file import (
    load_pseudo_labels,
    save_pseudo_labels,
)
from mmpose_epipolar.datasets.recording import index_recording

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs/body_3d_keypoint/pose_resnet'
CPU_CONFIG = CONFIGS / 'footage/td-vol_cbam-res18-wasp_selfsup-1xb16-2e_footage-96x96.py'  # noqa: E501
CONFIG_256 = CONFIGS / 'footage/td-vol_cbam-res50-wasp_selfsup-1xb16-20e_footage-256x256.py'  # noqa: E501
STAGE1 = CONFIGS / 'synthetic/td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py'  # noqa: E501
SYNTHETIC_SELFSUP = CONFIGS / 'synthetic/td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py'  # noqa: E501
MPII = CONFIGS / 'mpii/td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py'
CAMERAS = ('cam01', 'cam02', 'cam03', 'cam04')
NUM_FRAMES = 6
# Views given a bad person box: (camera, frame) -> box.
BAD_BOXES = {('cam03', 2): [np.nan] * 4, ('cam02', 4): [500, 600, 500, 900]}
# Where the footage pipeline sets the label file and the occluder bank.
LABEL_KEY = 'train_dataloader.dataset.pipeline.1.label_file'
BANK_KEY = 'train_dataloader.dataset.pipeline.7.bank_file'
PROB_KEY = 'train_dataloader.dataset.pipeline.7.prob'


def boxes_from_keypoints(keypoints, min_score=0.5, enlarge=1.25):
    """Box of the joints scoring at least ``min_score``, enlarged about its
    centre: (..., J, 3) -> boxes (..., 4) xyxy and scores (...,)."""
    seen = keypoints[..., 2] >= min_score
    xy = np.where(seen[..., None], keypoints[..., :2], np.nan)
    lo, hi = np.nanmin(xy, -2), np.nanmax(xy, -2)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * enlarge
    score = np.where(seen, keypoints[..., 2], np.nan)
    return (np.concatenate([centre - half, centre + half], -1),
            np.nanmean(score, -1))


@pytest.fixture(scope='module')
def footage(tmp_path_factory, shared_data):
    """The first frames of the real recording, indexed and decoded, and the
    views file of their person boxes and 2D (H36M-16)."""
    demo = shared_data / 'pose2sim-demo'
    if not (demo / 'videos' / 'cam01.mp4').is_file():
        pytest.skip(f'pose2sim-demo not found at {demo}')
    tmp = tmp_path_factory.mktemp('footage')
    recording = tmp / 'recording'
    (recording / 'videos').mkdir(parents=True)
    for cam in CAMERAS:
        os.symlink(demo / 'videos' / f'{cam}.mp4',
                   recording / 'videos' / f'{cam}.mp4')
    calib = demo / 'calibration' / 'calibration.toml'
    index = index_recording(recording, CAMERAS, tmp / 'frames',
                            frame_range=(0, NUM_FRAMES))
    assert index.present.all() and len(index.frames) == NUM_FRAMES
    npz = np.load(demo / 'mediapipe_coco17.npz')
    assert tuple(npz['cameras']) == index.cameras
    coco = npz['keypoints'][:NUM_FRAMES]  # (F, V, 17, 3)
    boxes, scores = boxes_from_keypoints(coco)
    frames = np.repeat(index.frames, len(CAMERAS))
    cameras = np.tile(CAMERAS, NUM_FRAMES)
    boxes, scores = boxes.reshape(-1, 4), scores.reshape(-1)
    for (cam, frame), box in BAD_BOXES.items():
        boxes[(cameras == cam) & (frames == frame)] = box
    keypoints = convert_keypoints(coco, 'coco17', 'h36m16').reshape(
        -1, 16, 3)
    views = tmp / 'footage_views.npz'
    save_footage_views(str(views), index.imgnames.reshape(-1), cameras,
                       frames, boxes, scores, keypoints,
                       meta=dict(recording='pose2sim-demo',
                                 keypoint_layout='h36m16'))
    return dict(tmp=tmp, views=views, calib=calib, index=index,
                boxes=boxes, keypoints=keypoints,
                imgnames=index.imgnames.reshape(-1))


def dataset_cfg(footage, **kwargs):
    cfg = dict(type='FootageMultiViewDataset', data_root=str(footage['tmp']),
               ann_file=footage['views'].name,
               calib_file=str(footage['calib']),
               data_prefix=dict(img=footage['index'].image_root))
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def dataset(footage):
    log = footage['tmp'] / 'dataset.log'
    MMLogger.get_instance('footage_dataset_test', log_file=str(log))
    ds = DATASETS.build(dataset_cfg(footage))
    return ds, log.read_text()


def test_views_file_round_trip(footage):
    views = load_footage_views(str(footage['views']))
    np.testing.assert_array_equal(views['imgname'], footage['imgnames'])
    assert views['imgname'][5] == 'cam02/000001.jpg'
    assert views['camera'][5] == 'cam02' and views['frame'][5] == 1
    assert views['frame'].dtype == np.int64
    np.testing.assert_array_equal(views['bbox'], footage['boxes'])
    np.testing.assert_array_equal(views['keypoints'], footage['keypoints'])
    assert views['meta'] == dict(recording='pose2sim-demo',
                                 keypoint_layout='h36m16')
    # MediaPipe's people are 700-1100 px tall in the 1920 px portrait views.
    size = views['bbox'][:, 2:] - views['bbox'][:, :2]
    good = (size > 0).all(1)
    assert good.sum() == 22
    assert 700 < size[good, 1].min() and size[good, 1].max() < 1100


def test_views_are_samples_with_the_calibrations_intrinsics(
        footage, dataset):
    ds, _ = dataset
    assert isinstance(ds, FootageMultiViewDataset)
    assert len(ds) == NUM_FRAMES * len(CAMERAS) - len(BAD_BOXES)
    calib = {c.name: c for c in load_calibration(footage['calib'])}
    for idx in range(len(ds)):
        info = ds.get_data_info(idx)
        row = info['img_id']
        assert info['id'] == row
        name = footage['imgnames'][row]
        assert info['img_path'] == os.path.join(
            footage['index'].image_root, name)
        assert os.path.isfile(info['img_path'])
        assert info['camera_id'] == name.split('/')[0]
        assert info['frame_idx'] == int(name[-10:-4])
        assert (info['subject'], info['action'], info['subaction']) == (
            'pose2sim-demo', 'recording', 0)
        assert info['bbox'].shape == (1, 4)
        assert info['bbox'].dtype == np.float32
        np.testing.assert_allclose(info['bbox'][0], footage['boxes'][row],
                                   rtol=1e-6)
        assert info['bbox_score'].shape == (1, )
        assert info['keypoints'].shape == (1, 16, 2)
        assert info['keypoints_visible'].shape == (1, 16)
        assert not info['keypoints'].any()
        assert not info['keypoints_visible'].any()
        assert 'keypoints_depth' not in info and 'keypoints_cam' not in info
        cam = info['camera_param']
        # Intrinsics only: the file's rotation and translation never enter.
        assert set(cam) == {'f', 'c', 'k', 'p', 'w', 'h', 'intrinsics',
                            'distortion'}
        truth = calib[info['camera_id']]
        assert truth.has_extrinsics
        np.testing.assert_array_equal(cam['intrinsics'], truth.intrinsics)
        np.testing.assert_array_equal(cam['distortion'], truth.distortion)
        np.testing.assert_array_equal(cam['f'], np.diag(truth.intrinsics)[:2])
        assert (cam['w'], cam['h']) == (1088, 1920)
    assert ds.metainfo['num_keypoints'] == 16
    assert ds.metainfo['flip_indices'][1] == 4  # right_hip <-> left_hip


def test_view_groups_are_the_frames(footage, dataset):
    ds, _ = dataset
    assert len(ds.view_groups) == NUM_FRAMES
    for gid, group in enumerate(ds.view_groups):
        infos = ds.get_view_group(gid)
        assert {i['frame_idx'] for i in infos} == {gid}
        assert {i['view_group'] for i in infos} == {gid}
        expected = [c for c in CAMERAS if (c, gid) not in BAD_BOXES]
        assert [i['camera_id'] for i in infos] == expected
    # A subset numbers its own groups: views 8-15 are frame 2 (3 views),
    # frame 3 and the first view of frame 4.
    subset = ds.get_subset(list(range(8, 16)))
    assert [len(g) for g in subset.view_groups] == [3, 4, 1]
    assert [i['frame_idx'] for i in subset.get_view_group(2)] == [4]


def test_camera_sets_of_the_dataset(footage, dataset):
    ds, _ = dataset
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    sets, skipped = dataset_camera_sets(infos)
    assert skipped == 0 and len(sets) == 1
    rig = sets[0]
    assert tuple(rig.cameras) == CAMERAS
    assert rig.rows.shape == (NUM_FRAMES, 4)
    assert (rig.rows == -1).sum() == len(BAD_BOXES)
    assert rig.rows[2, 2] == -1 and rig.rows[4, 1] == -1
    for v, cam in enumerate(load_calibration(footage['calib'])):
        np.testing.assert_array_equal(rig.intrinsics[v], cam.intrinsics)
    ok = rig.rows >= 0
    assert all(infos[r]['camera_id'] == CAMERAS[v]
               for (f, v), r in np.ndenumerate(rig.rows) if ok[f, v])


def test_bad_boxes_are_left_out_and_counted(dataset):
    ds, log = dataset
    assert ds.num_bad_boxes == 2
    assert set(ds.bad_box_imgnames) == {'cam03/000002.jpg',
                                        'cam02/000004.jpg'}
    assert 'left out 2 of 24 views' in log and 'bad person box' in log


def test_a_camera_missing_from_the_calibration(footage, tmp_path):
    cams = load_calibration(footage['calib'])[:3]
    partial = tmp_path / 'three_cameras.toml'
    save_calibration_toml(str(partial), cams)
    with pytest.raises(FootageViewsError) as err:
        DATASETS.build(dataset_cfg(footage, calib_file=str(partial)))
    message = str(err.value)
    assert str(partial) in message and str(footage['views']) in message
    assert "['cam04']" in message


def _rewrite(src, dst, **changes):
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(dst, **arrays)
    return dst


def test_wrong_views_files_name_the_file_and_key(footage, tmp_path):
    src = footage['views']
    with np.load(src) as npz:
        boxes = npz['bbox']
    renamed = tmp_path / 'renamed.npz'
    with np.load(src) as npz:
        arrays = {('boxes' if k == 'bbox' else k): npz[k] for k in npz.files}
    np.savez(renamed, **arrays)
    with pytest.raises(FootageViewsError, match="'bbox'") as err:
        load_footage_views(str(renamed))
    assert str(renamed) in str(err.value) and "'boxes'" in str(err.value)
    with pytest.raises(FootageViewsError, match=str(renamed)):
        DATASETS.build(dataset_cfg(footage, data_root=str(tmp_path),
                                   ann_file='renamed.npz'))
    cases = {
        "'bbox' has shape": dict(bbox=boxes[:, :3]),
        "'frame' must hold integers": dict(frame=np.arange(24) + 0.5),
        "'camera'.*without unpickling": dict(
            camera=np.array(list(CAMERAS) * 6, dtype=object)),
        "'imgname' lists 'cam01/000000.jpg' 24 times": dict(
            imgname=np.array(['cam01/000000.jpg'] * 24)),
        "camera 'cam01' has two views of frame 0": dict(
            frame=np.zeros(24, np.int64)),
    }
    for i, (match, change) in enumerate(cases.items()):
        bad = _rewrite(src, tmp_path / f'bad{i}.npz', **change)
        with pytest.raises(FootageViewsError, match=match) as err:
            load_footage_views(str(bad))
        assert str(bad) in str(err.value)
    # The writer checks the same.
    with pytest.raises(FootageViewsError, match="'bbox_score' has shape"):
        save_footage_views(str(tmp_path / 'x.npz'), ['cam01/a.jpg'],
                           ['cam01'], [0], np.zeros((1, 4)), np.zeros(2))
    assert not (tmp_path / 'x.npz').exists()


# ----------------------------------------------------------------------------
# Training the CPU footage config
# ----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def training_inputs(footage, dataset, shared_data):
    """The label file (MediaPipe's 2D triangulated by the pooled engine,
    intrinsics only), a real-object occluder bank and a 2D checkpoint."""
    ds, _ = dataset
    tmp = footage['tmp']
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    rows = [i['img_id'] for i in infos]
    sets, _ = dataset_camera_sets(infos)
    keypoints = footage['keypoints'][rows]
    labels = build_pseudo_labels(keypoints, sets, progress=False)
    label_file = tmp / 'pseudo_labels.npz'
    save_pseudo_labels(str(label_file),
                       labelled_rows(labels, footage['imgnames'][rows],
                                     keypoints),
                       meta=dict(mode='pooled', views=2))
    coco = shared_data / 'mmpose-testdata' / 'coco'
    if not (coco / 'test_coco.json').is_file():
        pytest.skip(f'COCO sample not found at {coco}')
    bank = tmp / 'occluders.npz'
    save_occluder_bank(str(bank), coco_person_occluders(str(coco)),
                       dict(source='MMPose COCO test images'))
    cfg = Config.fromfile(str(STAGE1))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    checkpoint = tmp / 'stage1_random.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    meta=dict()), checkpoint)
    options = {
        'train_dataloader.dataset.data_root': str(tmp),
        'train_dataloader.dataset.ann_file': footage['views'].name,
        'train_dataloader.dataset.calib_file': str(footage['calib']),
        'train_dataloader.dataset.data_prefix.img':
        footage['index'].image_root,
        LABEL_KEY: str(label_file),
        BANK_KEY: str(bank),
        'load_from': str(checkpoint),
    }
    return dict(label_file=label_file, bank=bank, checkpoint=checkpoint,
                options=options)


def test_labels_of_the_real_2d(training_inputs):
    labels = load_pseudo_labels(str(training_inputs['label_file']))
    # Every view of the dataset is labelled (measured: all 22 valid, 97 %
    # of the joints kept, median reprojection 4.9 px, p90 10.3 px).
    assert len(labels['imgname']) == 22 and labels['valid'].all()
    visible = labels['keypoints_visible'] > 0
    assert visible.mean() > 0.9
    assert np.median(labels['reproj_error'][visible]) < 8


def test_footage_configs():
    cpu, big = Config.fromfile(str(CPU_CONFIG)), Config.fromfile(
        str(CONFIG_256))
    synthetic = Config.fromfile(str(SYNTHETIC_SELFSUP))
    assert cpu.model.to_dict() == synthetic.model.to_dict()
    for cfg in (cpu, big):
        pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
        assert pipeline[1] == 'EpipolarPseudoLabel'
        assert pipeline[7] == 'SyntheticOcclusion'
        assert cfg.train_dataloader.dataset.type == 'FootageMultiViewDataset'
        hooks = [h.type for h in cfg.custom_hooks]
        assert hooks == ['SyncBuffersHook', 'UnreadableImageHook']
        assert all(cfg[k] is None for k in (
            'val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader',
            'test_cfg', 'test_evaluator'))
        assert cfg.load_from.endswith('.pth')
        assert cfg.model.backbone.init_cfg is None
    assert big.train_cfg.max_epochs == 20 and cpu.train_cfg.max_epochs == 2
    # The MPII 2D stage initialises the 256 x 256 network, every weight.
    mpii = Config.fromfile(str(MPII))
    mpii.model.backbone.init_cfg = None
    keys_2d = set(MODELS.build(mpii.model).state_dict())
    assert keys_2d == set(MODELS.build(big.model).state_dict())


def _dataset_of(config, options):
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(options)
    return DATASETS.build(cfg.train_dataloader.dataset)


def test_occlusion_needs_a_bank_or_an_explicit_zero(training_inputs,
                                                     tmp_path):
    options = dict(training_inputs['options'], **{PROB_KEY: 1.0})
    occluded = _dataset_of(CPU_CONFIG, options)
    plain = _dataset_of(CPU_CONFIG, dict(options, **{PROB_KEY: 0.0}))
    np.random.seed(0)
    a = occluded[0]
    np.random.seed(0)
    b = plain[0]
    assert a['inputs'].shape == (3, 96, 96)
    changed = (a['inputs'] != b['inputs']).any(0).float().mean()
    assert 0.02 < changed < 0.9
    # A missing bank stops at the first occluded sample, naming the file.
    missing = dict(options, **{BANK_KEY: str(tmp_path / 'no_bank.npz')})
    with pytest.raises(FileNotFoundError, match='no_bank.npz'):
        _dataset_of(CPU_CONFIG, missing)[0]
    _dataset_of(CPU_CONFIG, dict(missing, **{PROB_KEY: 0}))[0]


def test_short_training_from_a_2d_checkpoint(training_inputs, footage):
    work = footage['tmp'] / 'work'
    options = dict(training_inputs['options'], **{
        'train_cfg.max_epochs': 1,
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'default_hooks.logger.interval': 1,
    })
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='2')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(CPU_CONFIG), '--work-dir',
         str(work), '--cfg-options',
         *[f'{k}={v}' for k, v in options.items()]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f'Load checkpoint from {training_inputs["checkpoint"]}' in out
    assert 'left out 2 of 24 views' in out
    checkpoint = work / 'epoch_1.pth'
    assert checkpoint.is_file()
    trained = torch.load(checkpoint, map_location='cpu')['state_dict']
    start = torch.load(training_inputs['checkpoint'])['state_dict']
    assert set(trained) == set(start)
    assert not torch.equal(trained['head.final_layer.weight'],
                           start['head.final_layer.weight'])
    scalars = next(work.glob('*/vis_data/scalars.json'))
    losses = [json.loads(line)['loss']
              for line in scalars.read_text().splitlines()
              if 'loss' in json.loads(line)]
    # 22 views, batches of 8.
    assert len(losses) == 3 and np.isfinite(losses).all()
