"""Recording folders: the real Pose2Sim videos decoded once into the frame
cache, generated videos and image folders with offsets, different lengths,
missing, truncated and unreadable frames, and every matching error."""
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpose_epipolar.datasets.recording import (
    RecordingError,
    find_recording,
    image_file_ok,
    index_recording,
)

DEMO_CAMERAS = ['cam01', 'cam02', 'cam03', 'cam04']


@pytest.fixture
def demo_recording(shared_data, tmp_path) -> Path:
    videos = shared_data / 'pose2sim-demo' / 'videos'
    if not (videos / 'cam01.mp4').is_file():
        pytest.skip(f'pose2sim-demo videos not found at {videos}')
    root = tmp_path / 'demo'
    (root / 'videos').mkdir(parents=True)
    for cam in DEMO_CAMERAS:
        os.symlink(videos / f'{cam}.mp4', root / 'videos' / f'{cam}.mp4')
    return root


def _frame_of(video: Path, frame: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    for _ in range(frame + 1):
        ok, image = cap.read()
        assert ok
    cap.release()
    return image


def _mtimes(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*.jpg')}


def test_real_videos_are_decoded_once(demo_recording, tmp_path):
    cache = tmp_path / 'frames'
    index = index_recording(demo_recording, DEMO_CAMERAS, cache,
                            frame_range=(0, 20), step=2)
    np.testing.assert_array_equal(index.frames, np.arange(0, 20, 2))
    assert index.cameras == tuple(DEMO_CAMERAS)
    assert index.imgnames[3, 2] == 'cam03/000006.jpg'
    np.testing.assert_array_equal(index.source_frames[:, 0], index.frames)
    summary = index.summary
    assert summary['lengths'] == dict.fromkeys(DEMO_CAMERAS, 100)
    assert summary['common_range'] == [0, 100]
    assert not summary['different_lengths']
    assert summary['decoded'] == dict.fromkeys(DEMO_CAMERAS, 10)
    assert summary['unreadable'] == dict.fromkeys(DEMO_CAMERAS, 0)
    assert summary['frames'] == 10 and index.present.all()
    # Portrait frames: 1080 (cam01, cam02) or 1088 (cam03, cam04) x 1920.
    shapes = [cv2.imread(index.image_path(0, v)).shape for v in range(4)]
    assert shapes == [(1920, 1080, 3)] * 2 + [(1920, 1088, 3)] * 2
    before = _mtimes(cache)
    assert len(before) == 40

    again = index_recording(demo_recording, DEMO_CAMERAS, cache,
                            frame_range=(0, 20), step=2)
    assert again.summary['decoded'] == dict.fromkeys(DEMO_CAMERAS, 0)
    assert _mtimes(cache) == before
    np.testing.assert_array_equal(again.imgnames, index.imgnames)
    # A wider range decodes only the frames not cached yet.
    wider = index_recording(demo_recording, DEMO_CAMERAS, cache,
                            frame_range=(0, 24), step=2)
    assert wider.summary['decoded'] == dict.fromkeys(DEMO_CAMERAS, 2)
    assert all(_mtimes(cache)[p] == t for p, t in before.items())


def test_cached_frame_is_exactly_that_frame(demo_recording, tmp_path):
    index = index_recording(demo_recording, DEMO_CAMERAS, tmp_path / 'png',
                            frame_range=(6, 7), image_ext='.png')
    assert index.imgnames[0, 1] == 'cam02/000006.png'
    cached = cv2.imread(index.image_path(0, 1))
    video = demo_recording / 'videos' / 'cam02.mp4'
    np.testing.assert_array_equal(cached, _frame_of(video, 6))
    assert not np.array_equal(cached, _frame_of(video, 5))


def _write_video(path: Path, values, size=(64, 48)) -> None:
    """An MJPG AVI whose frame i is ``values[i]`` plus a little noise (so
    that frames, not headers, fill the file)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             size)
    rng = np.random.default_rng(0)
    for value in values:
        noise = rng.integers(-8, 9, (size[1], size[0], 3))
        writer.write(np.clip(value + noise, 0, 255).astype(np.uint8))
    writer.release()


@pytest.fixture
def small_videos(tmp_path) -> Path:
    """camA 10 frames, camB 8 frames, camC 10 frames cut short on disk."""
    root = tmp_path / 'rec'
    (root / 'videos').mkdir(parents=True)
    videos = root / 'videos'
    _write_video(videos / 'camA.avi', [20 * i + 12 for i in range(10)])
    _write_video(videos / 'camB.avi', [20 * i + 15 for i in range(8)])
    full = root / 'videos' / 'camC.avi'
    _write_video(full, [20 * i + 18 for i in range(10)])
    data = full.read_bytes()
    full.write_bytes(data[:int(len(data) * 0.7)])
    (root / 'videos' / 'readme.txt').write_text('not a video')
    return root


def test_lengths_offsets_and_truncated_video(small_videos, tmp_path):
    cache = tmp_path / 'cache'
    with pytest.warns(UserWarning) as record:
        index = index_recording(small_videos,
                                ['camA', 'camB', 'camC', 'camD'], cache,
                                offsets=dict(camB=2))
    messages = ' '.join(str(w.message) for w in record)
    assert "['camD'] have no video" in messages
    assert 'different lengths' in messages
    summary = index.summary
    assert summary['dropped_cameras'] == ['camD']
    assert summary['lengths'] == dict(camA=10, camB=8, camC=10)
    # camB starts 2 frames late and has 8: timeline frames 0..5 are common.
    assert summary['common_range'] == [0, 6] and summary['different_lengths']
    np.testing.assert_array_equal(index.frames, np.arange(6))
    np.testing.assert_array_equal(index.source_frames[:, 1], np.arange(2, 8))
    assert index.imgnames[0, 1] == 'camB/000002.jpg'
    for f in range(6):  # frame content: the right frame of each video
        assert abs(cv2.imread(index.image_path(f, 0)).mean() -
                   (20 * f + 12)) < 3
        assert abs(cv2.imread(index.image_path(f, 1)).mean() -
                   (20 * (f + 2) + 15)) < 3
    # The truncated video loses its last frames: missing views, counted.
    bad = ~index.present[:, 2]
    assert summary['unreadable'] == dict(camA=0, camB=0, camC=int(bad.sum()))
    assert 0 < bad.sum() < 6 and bad[-1]
    assert (index.source_frames[bad, 2] == -1).all()
    assert summary['decoded']['camC'] == int((~bad).sum())
    for f in np.flatnonzero(~bad):
        assert abs(cv2.imread(index.image_path(f, 2)).mean() -
                   (20 * f + 18)) < 3
    # The unreadable frames are remembered: the next call decodes nothing.
    with pytest.warns(UserWarning):
        again = index_recording(small_videos,
                                ['camA', 'camB', 'camC', 'camD'], cache,
                                offsets=dict(camB=2))
    assert again.summary['decoded'] == dict(camA=0, camB=0, camC=0)
    np.testing.assert_array_equal(again.imgnames, index.imgnames)
    stored = json.loads((cache / 'index.json').read_text())
    assert sorted(stored['cameras']) == ['camA', 'camB', 'camC']
    # A changed video is decoded again.
    _write_video(small_videos / 'videos' / 'camA.avi',
                 [20 * i + 1 for i in range(12)])
    with pytest.warns(UserWarning):
        changed = index_recording(small_videos, ['camA', 'camB', 'camC'],
                                  cache, offsets=dict(camB=2))
    assert changed.summary['decoded']['camA'] == 6
    assert changed.summary['decoded']['camB'] == 0


def test_matching_errors(small_videos, tmp_path):
    cache = tmp_path / 'cache'
    with pytest.raises(RecordingError) as info:
        index_recording(small_videos, ['camA', 'camB'], cache)
    msg = str(info.value)
    assert "['camC'] are not in the calibration" in msg
    assert "['camA', 'camB']" in msg and "'camC'" in msg
    (small_videos / 'videos' / 'camC.avi').unlink()
    (small_videos / 'videos' / 'camB.avi').unlink()
    with pytest.raises(RecordingError, match='at least 2 are needed'), \
            pytest.warns(UserWarning):
        index_recording(small_videos, ['camA', 'camB', 'camC'], cache)
    (small_videos / 'videos' / 'camB.mov').write_bytes(b'garbage' * 100)
    with pytest.raises(RecordingError, match=r'camB\.mov cannot be opened'):
        index_recording(small_videos, ['camA', 'camB'], cache)
    with pytest.raises(ValueError, match='needs a cache_dir'):
        index_recording(small_videos, ['camA', 'camB'])
    with pytest.raises(ValueError, match=r"camera\(s\) \['camZ'\]"):
        index_recording(small_videos, ['camA', 'camB'], cache,
                        offsets=dict(camZ=1))
    _write_video(small_videos / 'videos' / 'camA.mp4', [0, 1])
    with pytest.raises(RecordingError, match="'camA' has two videos"):
        find_recording(small_videos, ['camA', 'camB'])
    (small_videos / 'images').mkdir()
    with pytest.raises(RecordingError, match='has both videos/'):
        find_recording(small_videos, ['camA', 'camB'])
    with pytest.raises(RecordingError, match='has neither'):
        find_recording(tmp_path, ['camA'])


def _image(value: int) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)


@pytest.fixture
def image_recording(tmp_path) -> Path:
    """Cameras a (frames 0-9), b (0-9 without 3 and 4), c (0-5, frame 2 a
    truncated JPEG, frame 5 a truncated PNG); names with other numbers."""
    root = tmp_path / 'rec'
    for cam, frames in dict(a=range(10), b=[0, 1, 2, 5, 6, 7, 8, 9],
                            c=range(6)).items():
        folder = root / 'images' / cam
        folder.mkdir(parents=True)
        for f in frames:
            ext = '.png' if (cam, f) == ('c', 5) else '.jpg'
            path = folder / f'take2_{cam}_{f:04d}{ext}'
            cv2.imwrite(str(path), _image(f))
            if (cam, f) in (('c', 2), ('c', 5)):
                data = path.read_bytes()
                path.write_bytes(data[:len(data) // 2])
        (folder / 'info.txt').write_text('ignored')
    return root


def test_image_folders(image_recording, tmp_path):
    cache = tmp_path / 'cache'
    index = index_recording(image_recording, ['a', 'b', 'c'], cache)
    assert index.kind == 'images'
    assert index.image_root == str(image_recording / 'images')
    np.testing.assert_array_equal(index.frames, np.arange(10))
    present = index.present
    np.testing.assert_array_equal(present[:, 0], True)
    np.testing.assert_array_equal(np.flatnonzero(~present[:, 1]), [3, 4])
    np.testing.assert_array_equal(np.flatnonzero(present[:, 2]),
                                  [0, 1, 3, 4])
    assert index.imgnames[7, 1] == 'b/take2_b_0007.jpg'
    summary = index.summary
    assert summary['lengths'] == dict(a=10, b=8, c=6)
    assert summary['missing'] == dict(a=0, b=2, c=4)
    assert summary['unreadable'] == dict(a=0, b=0, c=2)
    assert summary['frames_below_min_views'] == 0
    assert summary['checked'] == dict(a=10, b=8, c=6)
    np.testing.assert_array_equal(cv2.imread(index.image_path(9, 0)),
                                  cv2.imread(str(image_recording / 'images' /
                                                 'a' / 'take2_a_0009.jpg')))
    # The checks are cached; an edited file is checked again.
    assert index_recording(image_recording, ['a', 'b', 'c'],
                           cache).summary['checked'] == dict(a=0, b=0, c=0)
    cv2.imwrite(str(image_recording / 'images' / 'c' / 'take2_c_0002.jpg'),
                _image(2))
    fixed = index_recording(image_recording, ['a', 'b', 'c'], cache)
    assert fixed.summary['checked'] == dict(a=0, b=0, c=1)
    assert fixed.summary['unreadable']['c'] == 1 and fixed.present[2, 2]


def test_image_folders_offsets_range_step_and_min_views(image_recording):
    # c's frame n + 4 is timeline frame n: c covers timeline -4..1 only.
    index = index_recording(image_recording, ['a', 'b', 'c'],
                            offsets=dict(c=4), frame_range=(None, 9), step=2,
                            min_views=3, check_images=False)
    # Timeline -4..8 every 2nd from -4; three views only at frame 0.
    np.testing.assert_array_equal(index.frames, [0])
    assert index.summary['frames_below_min_views'] == 6
    assert index.imgnames[0, 2] == 'c/take2_c_0004.jpg'
    two = index_recording(image_recording, ['a', 'b', 'c'], frame_range=(1, 6),
                          step=2, check_images=False)
    np.testing.assert_array_equal(two.frames, [1, 3, 5])
    # Unchecked, the truncated PNG of c counts as present.
    assert two.present[2, 2] and two.summary['unreadable']['c'] == 0


def test_image_folder_errors(image_recording):
    folder = image_recording / 'images' / 'a'
    cv2.imwrite(str(folder / 'frame_7.png'), _image(7))
    with pytest.raises(RecordingError, match='frame_7.png and '
                       'take2_a_0007.jpg both have frame number 7'):
        index_recording(image_recording, ['a', 'b', 'c'])
    (folder / 'frame_7.png').unlink()
    cv2.imwrite(str(folder / 'cover.jpg'), _image(1))
    with pytest.raises(RecordingError, match='cover.jpg has no frame number'):
        index_recording(image_recording, ['a', 'b', 'c'])
    (folder / 'cover.jpg').unlink()
    with pytest.raises(ValueError, match='frame step'):
        index_recording(image_recording, ['a', 'b', 'c'], step=0)


def test_image_file_ok(tmp_path):
    image = _image(3)
    for ext in ('.jpg', '.png'):
        good = tmp_path / f'good{ext}'
        cv2.imwrite(str(good), image)
        assert image_file_ok(good)
        data = good.read_bytes()
        cut = tmp_path / f'cut{ext}'
        cut.write_bytes(data[:-len(data) // 4])
        assert not image_file_ok(cut)
    (tmp_path / 'empty.jpg').write_bytes(b'')
    assert not image_file_ok(tmp_path / 'empty.jpg')
    (tmp_path / 'noise.jpg').write_bytes(os.urandom(500))
    assert not image_file_ok(tmp_path / 'noise.jpg')
    assert not image_file_ok(tmp_path / 'absent.jpg')
