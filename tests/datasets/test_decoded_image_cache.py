# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""LoadImageOrSkip's cache of decoded images (``cache_mb``)."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from mmpose.registry import TRANSFORMS

from mmpose_epipolar.datasets.transforms import loading
from mmpose_epipolar.datasets.transforms.loading import DecodedImageCache

REAL_JPEGS = (
    'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg',
    'S7/S7_Greeting.55011271/S7_Greeting.55011271_000396.jpg')


@pytest.fixture
def cache(monkeypatch):
    """A fresh process cache for each test."""
    fresh = DecodedImageCache()
    monkeypatch.setattr(loading, 'DECODED_IMAGES', fresh)
    return fresh


@pytest.fixture
def jpegs(tmp_path, h36m_sample):
    paths = []
    for i, rel in enumerate(REAL_JPEGS):
        if not (h36m_sample / rel).is_file():
            pytest.skip(f'{rel} not in the H36M sample')
        paths.append(tmp_path / f'{i}.jpg')
        shutil.copy(h36m_sample / rel, paths[-1])
    return paths


def _load(path: Path, **kwargs) -> dict:
    return TRANSFORMS.build(dict(type='LoadImageOrSkip', **kwargs))(
        dict(img_path=str(path)))


def test_cached_images_are_the_decoded_pixels_and_read_only(cache, jpegs):
    plain = _load(jpegs[0])['img']
    first = _load(jpegs[0], cache_mb=64)['img']
    again = _load(jpegs[0], cache_mb=64)['img']
    assert again is first  # decoded once
    np.testing.assert_array_equal(first, plain)
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.nbytes == plain.nbytes
    with pytest.raises(ValueError, match='read-only'):
        again[0, 0, 0] = 1
    # Without cache_mb the transform neither reads nor fills the cache.
    assert _load(jpegs[1])['img'].flags.writeable
    assert (cache.hits, cache.misses, len(cache._images)) == (1, 1, 1)


def test_a_rewritten_file_is_decoded_again(cache, jpegs):
    first = _load(jpegs[0], cache_mb=64)['img']
    shutil.copy(jpegs[1], jpegs[0])
    stat = os.stat(jpegs[0])
    # Same size and a new time, or the same time: either key part moves.
    os.utime(jpegs[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = _load(jpegs[0], cache_mb=64)['img']
    np.testing.assert_array_equal(second, _load(jpegs[1])['img'])
    assert not np.array_equal(first, second)
    assert cache.misses == 2


def test_the_budget_evicts_the_least_recently_used(cache, jpegs):
    size = _load(jpegs[0])['img'].nbytes
    budget_mb = (size * 3 // 2) / 2**20  # room for one image, not two
    load = TRANSFORMS.build(dict(type='LoadImageOrSkip', cache_mb=1))
    cache.budget = int(budget_mb * 2**20)
    load(dict(img_path=str(jpegs[0])))
    load(dict(img_path=str(jpegs[1])))
    assert cache.nbytes == size and len(cache._images) == 1
    load(dict(img_path=str(jpegs[1])))
    assert cache.hits == 1
    load(dict(img_path=str(jpegs[0])))
    assert cache.misses == 3  # jpegs[0] was evicted


def test_unreadable_images_are_reported_not_cached(cache, tmp_path, jpegs):
    cut = tmp_path / 'cut.jpg'
    data = jpegs[0].read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    out = _load(cut, cache_mb=64, test_mode=True)
    assert out['unreadable_images'] == (
        (str(cut), 'truncated JPEG (no end-of-image marker)'), )
    missing = _load(tmp_path / 'missing.jpg', cache_mb=64, test_mode=True)
    assert missing['unreadable_images'][0][1] == 'file not found'
    assert cache.nbytes == 0 and not cache._images


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match='cache_mb'):
        TRANSFORMS.build(dict(type='LoadImageOrSkip', cache_mb=-1))
