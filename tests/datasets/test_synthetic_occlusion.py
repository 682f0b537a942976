import json

import numpy as np
import pytest
from mmpose.registry import DATASETS, TRANSFORMS

from mmpose_epipolar.datasets import (
    coco_person_occluders,
    load_occluder_bank,
    mask_to_rgba,
    polygons_to_mask,
    save_occluder_bank,
)
from mmpose_epipolar.datasets.transforms import SyntheticOcclusion


def _coco_patches(coco_root, **kwargs):
    """RGBA cut-outs of the real COCO people (rasterised polygons)."""
    data = json.load(open(coco_root / 'test_coco.json'))
    for ann in data['annotations']:
        if ann.get('iscrowd') or not isinstance(ann['segmentation'], list):
            continue
        im = next(i for i in data['images'] if i['id'] == ann['image_id'])
        mask = polygons_to_mask(ann['segmentation'], im['height'],
                                im['width'])
        # the rasterised polygon has the annotated area
        assert abs(mask.sum() - ann['area']) < 0.1 * ann['area'] + 50
    return coco_person_occluders(str(coco_root), **kwargs)


@pytest.fixture
def coco_bank(tmp_path, coco_sample):
    patches = _coco_patches(coco_sample)
    path = tmp_path / 'coco_occluders.npz'
    save_occluder_bank(str(path), patches, dict(source='COCO test sample'))
    return path, patches


@pytest.fixture
def white_bank(tmp_path, coco_sample):
    """Same real shapes, but all white: covered pixels are easy to count."""
    patches = _coco_patches(coco_sample)
    for p in patches:
        p[..., :3] = 255
    path = tmp_path / 'white_occluders.npz'
    save_occluder_bank(str(path), patches)
    return path


def _results(size=256):
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, size, (1, 16, 2)).astype(np.float32)
    return dict(
        img=np.zeros((size, size, 3), np.uint8),
        keypoints=kpts.copy(),
        transformed_keypoints=kpts.copy(),
        keypoints_visible=np.ones((1, 16), np.float32),
        keypoints_depth=rng.normal(0, 50, (1, 16)).astype(np.float32))


def test_bank_round_trip(coco_bank):
    path, patches = coco_bank
    assert len(patches) >= 10
    loaded = load_occluder_bank(str(path))
    assert len(loaded) == len(patches)
    for a, b in zip(loaded, patches):
        np.testing.assert_array_equal(a, b)
    # soft border: the alpha has values strictly between 0 and 255
    alpha = np.concatenate([p[..., 3].ravel() for p in patches])
    assert ((alpha > 0) & (alpha < 255)).mean() > 0.01
    assert (alpha == 255).mean() > 0.2


def test_mask_to_rgba_crops_and_softens():
    img = np.zeros((50, 60, 3), np.uint8)
    img[10:30, 20:40] = (10, 200, 30)
    mask = np.zeros((50, 60), bool)
    mask[10:30, 20:40] = True
    p = mask_to_rgba(img, mask, erode_px=1, blur_sigma=1.0, margin=2)
    # box of the eroded mask (11..28, 21..38) + margin 2 + 3 sigma
    assert p.shape == (18 + 2 * 5, 18 + 2 * 5, 4)
    assert p[p.shape[0] // 2, p.shape[1] // 2, 3] == 255
    assert p[0, 0, 3] == 0
    np.testing.assert_array_equal(p[14, 14, :3], (10, 200, 30))
    hard = mask_to_rgba(img, mask, erode_px=0, blur_sigma=0, margin=0)
    assert hard.shape == (20, 20, 4) and (hard[..., 3] == 255).all()
    assert mask_to_rgba(img, np.zeros_like(mask)) is None
    with pytest.raises(ValueError, match='mask shape'):
        mask_to_rgba(img, mask[:10])


def test_coverage_range_and_labels_unchanged(white_bank):
    t = SyntheticOcclusion(bank_file=str(white_bank), prob=1.0)
    np.random.seed(0)
    fractions, measured = [], []
    for _ in range(300):
        before = _results()
        res = t(dict((k, v.copy()) for k, v in before.items()))
        for key in ('keypoints', 'transformed_keypoints', 'keypoints_visible',
                    'keypoints_depth'):
            np.testing.assert_array_equal(res[key], before[key])
        assert res['img'].shape == before['img'].shape
        assert res['img'].dtype == np.uint8
        covered = (res['img'][..., 0] >= 128).mean()
        fractions.append(res['occluded_fraction'])
        measured.append(covered)
    fractions, measured = np.array(fractions), np.array(measured)
    # the image agrees with the recorded coverage (white on black)
    assert np.abs(fractions - measured).max() < 0.01
    assert measured.max() <= 0.7 + 0.01
    assert fractions.max() <= 0.7
    # the whole 0-70 % range is used
    assert fractions.min() < 0.05 and fractions.max() > 0.55
    hist = np.histogram(fractions, bins=7, range=(0, 0.7))[0]
    assert (hist > 0).all(), hist


def test_probability_and_identity(coco_bank):
    path, _ = coco_bank
    t0 = SyntheticOcclusion(bank_file=str(path), prob=0.0)
    res = _results()
    res['img'][:] = 77
    out = t0(res)
    assert out is res and (out['img'] == 77).all()
    assert 'occluded_fraction' not in out

    t = SyntheticOcclusion(bank_file=str(path), prob=0.5)
    np.random.seed(1)
    hits = sum('occluded_fraction' in t(_results(64)) for _ in range(400))
    assert 160 < hits < 240  # binomial(400, 0.5): mean 200, sd 10


def test_deterministic_given_numpy_seed(coco_bank):
    path, _ = coco_bank
    t = SyntheticOcclusion(bank_file=str(path), prob=1.0)
    imgs = []
    for seed in (5, 5, 6):
        np.random.seed(seed)
        res = _results()
        res['img'][:] = 40
        imgs.append(t(res)['img'])
    np.testing.assert_array_equal(imgs[0], imgs[1])
    assert not np.array_equal(imgs[0], imgs[2])


def test_channel_order(tmp_path):
    red = np.zeros((20, 20, 4), np.uint8)
    red[..., 0] = 255
    red[..., 3] = 255
    path = tmp_path / 'red.npz'
    save_occluder_bank(str(path), [red])
    for order, expected in (('bgr', (0, 0, 255)), ('rgb', (255, 0, 0))):
        t = SyntheticOcclusion(
            bank_file=str(path), prob=1.0, min_coverage=0.3,
            max_coverage=0.3, num_occluders=(1, 1), channel_order=order)
        np.random.seed(0)
        out = t(_results(64))
        painted = out['img'][out['img'].any(-1)]
        assert len(painted) > 0
        assert (painted == expected).all(axis=-1).all()


def test_missing_bank_and_bad_arguments(tmp_path):
    missing = tmp_path / 'no_such_bank.npz'
    t = SyntheticOcclusion(bank_file=str(missing), prob=1.0)
    with pytest.raises(FileNotFoundError) as err:
        t(_results(32))
    assert str(missing) in str(err.value)
    assert ('extract_voc_occluders.py --voc-root VOCdevkit/VOC2012 --out'
            in str(err.value))
    with pytest.raises(ValueError, match='prob'):
        SyntheticOcclusion(bank_file='x.npz', prob=1.5)
    with pytest.raises(ValueError, match='max_coverage'):
        SyntheticOcclusion(bank_file='x.npz', max_coverage=1.2)
    with pytest.raises(ValueError, match='num_occluders'):
        SyntheticOcclusion(bank_file='x.npz', num_occluders=(0, 3))
    bad = tmp_path / 'bad.npz'
    np.savez(bad, rgba=np.zeros((10, 4), np.uint8),
             shapes=np.array([[3, 3]], np.int32))
    with pytest.raises(ValueError, match='bad.npz'):
        load_occluder_bank(str(bad))


def test_in_topdown_pipeline(coco_bank, h36m_sample):
    path, _ = coco_bank
    base = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(256, 256)),
    ]
    occl = dict(type='SyntheticOcclusion', bank_file=str(path), prob=1.0)
    assert isinstance(TRANSFORMS.build(occl), SyntheticOcclusion)

    def build(pipeline):
        return DATASETS.build(
            dict(
                type='H36MMultiViewDataset',
                ann_file='test_h36m_body3d.npz',
                camera_param_file='cameras.pkl',
                data_root=str(h36m_sample),
                data_prefix=dict(img=''),
                pipeline=pipeline))

    np.random.seed(3)
    plain = build(base)[0]
    occluded = build(base + [occl])[0]
    assert occluded['img'].shape == (256, 256, 3)
    changed = (occluded['img'] != plain['img']).any(-1).mean()
    assert 0 <= occluded['occluded_fraction'] <= 0.7
    assert changed >= occluded['occluded_fraction'] * 0.9
    for key in ('keypoints', 'transformed_keypoints', 'keypoints_depth',
                'keypoints_visible', 'keypoints_cam'):
        np.testing.assert_array_equal(occluded[key], plain[key])
