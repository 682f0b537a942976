"""Unreadable images (missing, empty, truncated, garbage) neither stop nor
corrupt a run: ``LoadImageOrSkip`` + ``UnreadableImageHook``."""
import glob
import io
import pickle
import re
from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmpose.registry import DATASETS, TRANSFORMS
from PIL import Image, ImageFile

from mmpose_epipolar.datasets.transforms import jpeg_truncation
from mmpose_epipolar.engine.hooks import unreadable_image_hook

REPO = Path(__file__).resolve().parents[2]
CONFIG_ROOT = REPO / 'configs'
SYNTHETIC = (CONFIG_ROOT / 'body_3d_keypoint/pose_resnet/synthetic/'
             'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
REAL_JPEG = 'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg'
TRUNCATED = 'truncated JPEG (no end-of-image marker)'


def _real_jpeg(h36m_sample) -> bytes:
    return (h36m_sample / REAL_JPEG).read_bytes()


def _write_bad_files(folder: Path, h36m_sample) -> dict:
    """One file per way an image can be unreadable."""
    data = _real_jpeg(h36m_sample)
    files = dict(
        truncated=data[:len(data) // 2],
        garbage=np.random.default_rng(0).integers(
            0, 256, 4096, dtype=np.uint8).tobytes(),
        empty=b'')
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f'{name}.jpg'
        paths[name].write_bytes(content)
    paths['missing'] = folder / 'missing.jpg'
    return {k: str(v) for k, v in paths.items()}


# ----------------------------------------------------------------------------
# Truncated JPEGs
# ----------------------------------------------------------------------------
def test_real_h36m_jpegs_are_complete_and_a_cut_copy_is_not(h36m_sample):
    names = sorted(glob.glob(str(h36m_sample / 'S*/*/*.jpg')))
    assert len(names) == 4
    for name in names:
        assert jpeg_truncation(Path(name).read_bytes()) is None, name
    data = _real_jpeg(h36m_sample)
    assert jpeg_truncation(data[:len(data) // 2]) == TRUNCATED
    assert jpeg_truncation(data[:-2]) == TRUNCATED  # only the EOI marker cut
    assert jpeg_truncation(data[:300]) == (
        'truncated JPEG (the file ends inside its header)')
    assert jpeg_truncation(b'\x89PNG\r\n\x1a\n') is None  # left to decoders


def test_a_tolerant_decoder_returns_grey_for_a_truncated_jpeg(h36m_sample):
    """Why the bytes are checked: OpenCV 4.11 refuses the cut file, but
    Pillow with its process-wide LOAD_TRUNCATED_IMAGES switch returns it
    with the missing rows grey and no error."""
    data = _real_jpeg(h36m_sample)
    cut = data[:len(data) // 2]
    assert cv2.imdecode(np.frombuffer(cut, np.uint8), cv2.IMREAD_COLOR) \
        is None
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        img = np.asarray(Image.open(io.BytesIO(cut)).convert('RGB'))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    assert img.shape == (1002, 1000, 3)
    assert (img[-200:] == 128).all()


# ----------------------------------------------------------------------------
# The transform
# ----------------------------------------------------------------------------
def test_training_skips_and_reports_through_the_next_sample(
        tmp_path, h36m_sample):
    bad = _write_bad_files(tmp_path, h36m_sample)
    load = TRANSFORMS.build(dict(type='LoadImageOrSkip'))
    for path in bad.values():
        assert load(dict(img_path=path)) is None
    good = str(h36m_sample / REAL_JPEG)
    out = load(dict(img_path=good))
    expected = TRANSFORMS.build(dict(type='LoadImage'))(dict(img_path=good))
    np.testing.assert_array_equal(out['img'], expected['img'])
    assert out['ori_shape'] == (1002, 1000)
    assert out['unreadable_images'] == (
        (bad['truncated'], TRUNCATED),
        (bad['garbage'], 'cannot be decoded as an image'),
        (bad['empty'], 'empty file'),
        (bad['missing'], 'file not found'),
    )
    # reported once: the next good sample carries nothing
    assert load(dict(img_path=good))['unreadable_images'] == ()


def test_test_mode_gives_a_marked_stand_in(tmp_path, h36m_sample):
    bad = _write_bad_files(tmp_path, h36m_sample)
    load = TRANSFORMS.build(dict(type='LoadImageOrSkip', test_mode=True))
    out = load(dict(img_path=bad['truncated']))
    assert out['img'].shape == (1, 1, 3) and not out['img'].any()
    assert out['img_path'] == bad['truncated']
    assert out['unreadable_images'] == ((bad['truncated'], TRUNCATED), )
    good = load(dict(img_path=str(h36m_sample / REAL_JPEG)))
    assert good['unreadable_images'] == ()


def test_a_run_of_failures_names_the_files(tmp_path):
    load = TRANSFORMS.build(
        dict(type='LoadImageOrSkip', max_consecutive_skips=3))
    paths = [str(tmp_path / f'{i}.jpg') for i in range(3)]
    assert load(dict(img_path=paths[0])) is None
    assert load(dict(img_path=paths[1])) is None
    with pytest.raises(RuntimeError,
                       match=r'3 images in a row could not be read, e\.g\. '
                       + re.escape(paths[0]) + r' \(file not found\)'):
        load(dict(img_path=paths[2]))


# ----------------------------------------------------------------------------
# Configs and the hook's checks
# ----------------------------------------------------------------------------
CONFIGS = sorted(p for p in CONFIG_ROOT.rglob('*.py')
                 if '_base_' not in p.parts)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_with_the_skipping_loader_and_hook(path):
    cfg = Config.fromfile(str(path))
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks[:2] == ['SyncBuffersHook', 'UnreadableImageHook']
    assert hooks[2:] in ([], ['PseudoLabelHook'])
    for loader, test_mode in (('train_dataloader', False),
                              ('val_dataloader', True),
                              ('test_dataloader', True)):
        if cfg[loader] is None:
            # Footage (no 3D ground truth): the inference pipeline.
            assert loader != 'train_dataloader'
            pipeline = cfg.test_pipeline
        else:
            pipeline = cfg[loader].dataset.pipeline
        assert pipeline[0].type == 'LoadImageOrSkip', (loader, pipeline[0])
        assert pipeline[0].get('test_mode', False) is test_mode, loader
        assert 'unreadable_images' in pipeline[-1].meta_keys, loader


def test_hook_refuses_pipelines_that_would_hide_unreadable_images(
        h36m_sample):
    def dataset(load, meta_keys=('img_path', 'unreadable_images')):
        return DATASETS.build(
            dict(
                type='H36MMultiViewDataset',
                ann_file='test_h36m_body3d.npz',
                camera_param_file='cameras.pkl',
                data_root=str(h36m_sample),
                data_prefix=dict(img=''),
                pipeline=[load, dict(type='PackPoseInputs',
                                     meta_keys=meta_keys)]))

    check = unreadable_image_hook._check_pipelines
    train_load = dict(type='LoadImageOrSkip')
    test_load = dict(type='LoadImageOrSkip', test_mode=True)
    check(dataset(train_load), 'train_dataloader', False)
    check(dataset(test_load), 'test_dataloader', True)
    with pytest.raises(ValueError,
                       match=r'val_dataloader\.dataset\.pipeline: '
                       'LoadImageOrSkip needs test_mode=True'):
        check(dataset(train_load), 'val_dataloader', True)
    with pytest.raises(ValueError, match='needs test_mode=False'):
        check(dataset(test_load), 'train_dataloader', False)
    with pytest.raises(ValueError,
                       match="PackPoseInputs.meta_keys lacks "
                       "'unreadable_images'"):
        check(dataset(train_load, meta_keys=('img_path', )),
              'train_dataloader', False)


# ----------------------------------------------------------------------------
# Real runs
# ----------------------------------------------------------------------------
def _runner_cfg(layout: dict, work_dir: Path, dataset_cfg, *,
                max_skip_ratio: float, evaluate: bool = True) -> Config:
    """The synthetic config (CBAM-ResNet-18, 96 x 96) on a generated
    Human3.6M-layout folder: 8 views of S1 train (2 epochs of 2 batches,
    one DataLoader worker), 8 views of S9 are validated after the last
    epoch and tested (batches of 4)."""
    cfg = Config.fromfile(str(SYNTHETIC))
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    cfg.custom_hooks = [
        dict(type='UnreadableImageHook', max_skip_ratio=max_skip_ratio)
    ]
    cfg.train_dataloader.update(
        batch_size=4, num_workers=1, persistent_workers=True)
    cfg.train_dataloader.dataset = dataset_cfg(
        layout, 'train', subjects=('S1', ), mode='supervised', indices=8,
        pipeline=cfg.train_pipeline)
    if not evaluate:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
        return cfg
    for loop in ('val', 'test'):
        cfg[f'{loop}_dataloader'] = dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dataset_cfg(
                layout, 'test', subjects=('S9', ), mode='test', indices=8,
                test_mode=True, pipeline=cfg.test_pipeline))
        cfg[f'{loop}_evaluator'] = [
            dict(type='Body3DMPJPE'),
            dict(type='DumpResults',
                 out_file_path=str(work_dir / f'{loop}.pkl'))
        ]
    return cfg


def _truncate_views(cfg: Config, loader: str,
                    indices: Sequence[int], data: bytes) -> List[str]:
    """Overwrite the images of these samples of a loader's dataset with a
    truncated JPEG; returns their paths."""
    dataset = DATASETS.build(cfg[loader].dataset)
    paths = [dataset.get_data_info(i)['img_path'] for i in indices]
    for path in paths:
        Path(path).write_bytes(data[:len(data) // 2])
    return paths


def _log_text(runner) -> str:
    return Path(runner.log_dir, f'{runner.timestamp}.log').read_text()


def _generated_layout(h36m_layout) -> dict:
    return h36m_layout(
        subjects=('S1', 'S9'),
        split_subjects=dict(train=['S1'], test=['S9']),
        frames=(1, 6, 11))


def test_training_with_a_truncated_jpeg_finishes_and_evaluates_the_rest(
        tmp_path, h36m_layout, h36m_sample, dataset_cfg):
    work = tmp_path / 'work'
    cfg = _runner_cfg(_generated_layout(h36m_layout), work, dataset_cfg,
                      max_skip_ratio=0.2)
    data = _real_jpeg(h36m_sample)
    train_bad, = _truncate_views(cfg, 'train_dataloader', [5], data)
    # Test batches [0-3] (stand-ins only) and [4-7] (one stand-in).
    test_bad = _truncate_views(cfg, 'test_dataloader', [0, 1, 2, 3, 6], data)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 2
    assert (work / 'epoch_2.pth').is_file()
    runner.test()
    log = _log_text(runner)

    # Training: logged once over the two epochs, counted in each.
    assert log.count(train_bad) == 1
    assert (f'Skipped an unreadable training image ({TRUNCATED}): '
            f'{train_bad}') in log
    for epoch in (1, 2):
        assert (f'Epoch {epoch}: skipped 1 of 8 training samples (12.50%; '
                'limit 20.00%) for unreadable images') in log

    # Validation and test: the metrics cover the 3 readable samples and
    # the 5 files left out are named.
    for loop in ('val', 'test'):
        report = re.search(f'{loop}: the metrics are over (.*)', log)
        assert report, loop
        assert report.group(1).startswith(
            '3 of the 8 samples, 5 left out as unreadable'), report.group(1)
        for path in test_bad:
            assert f'{path} ({TRUNCATED})' in report.group(1)
        listing = Path(runner.log_dir, f'unreadable_{loop}_images.txt')
        assert listing.read_text() == ''.join(
            f'{path}\t{TRUNCATED}\n' for path in test_bad)
        with open(work / f'{loop}.pkl', 'rb') as f:
            dumped = [d['img_path'] for d in pickle.load(f)]
        assert len(dumped) == 3 and not set(dumped) & set(test_bad)
    mpjpe = re.findall(r'h36m/MPJPE: (\S+)', log)
    assert len(mpjpe) == 2 and np.isfinite(float(mpjpe[0]))
    assert mpjpe[0] == mpjpe[1]  # val and test: the same 3 samples


def test_too_many_unreadable_images_stop_training_with_their_names(
        tmp_path, h36m_layout, h36m_sample, dataset_cfg):
    cfg = _runner_cfg(_generated_layout(h36m_layout), tmp_path / 'work',
                      dataset_cfg, max_skip_ratio=0.2, evaluate=False)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    bad = _truncate_views(cfg, 'train_dataloader', [0, 2, 4],
                          _real_jpeg(h36m_sample))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError) as error:
        runner.train()
    message = str(error.value)
    assert re.search(
        r'^\d+ training samples of epoch 1 were skipped because their images '
        r'could not be read, more than max_skip_ratio=0\.2 of the epoch\'s '
        r'8 samples allows: ', message), message
    assert any(f'{path} ({TRUNCATED})' in message for path in bad), message
