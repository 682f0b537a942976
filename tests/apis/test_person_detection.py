"""Person boxes of a recording: around the real MediaPipe 2D of the Pose2Sim
demo, and from a real mmdet config (RTMDet-tiny, one class) with random
weights on real frames of its videos: shapes, the per-image cache, its
invalidation by another checkpoint, and an unreadable frame."""
import os
import os.path as osp

import numpy as np
import pytest

from mmpose_epipolar.apis import person_detection
from mmpose_epipolar.apis.person_detection import (
    DEFAULT_DETECTOR,
    KEYPOINT_BOX_ENLARGE,
    boxes_from_keypoints,
    detect_people,
)
from mmpose_epipolar.datasets.recording import index_recording

CAMERAS = ['cam01', 'cam02']


# Boxes from keypoints -----------------------------------------------------


def test_boxes_from_real_keypoints(demo):
    kp = np.load(demo / 'mediapipe_coco17.npz')['keypoints']  # (100, 4, 17, 3)
    boxes = boxes_from_keypoints(kp)
    assert boxes.shape == (100, 4, 5)
    lo, hi = kp[..., :2].min(-2), kp[..., :2].max(-2)
    np.testing.assert_allclose(boxes[..., 2:4] - boxes[..., :2],
                               KEYPOINT_BOX_ENLARGE * (hi - lo))
    np.testing.assert_allclose((boxes[..., :2] + boxes[..., 2:4]) / 2,
                               (lo + hi) / 2)
    np.testing.assert_allclose(boxes[..., 4], kp[..., 2].mean(-1))
    # A person of about 1000 px in portrait 1080 x 1920 frames.
    height = np.median(boxes[..., 3] - boxes[..., 1])
    assert 700 < height < 1600, height

    # Joints below the confidence floor and missing joints are not used.
    one = kp[0, 0].copy()
    one[0] = np.nan  # the nose
    one[15:, 2] = 0.0  # the ankles
    box = boxes_from_keypoints(one, enlarge=1.0, min_confidence=0.0)
    used = one[1:15]
    np.testing.assert_allclose(box[:4], [*used[:, :2].min(0),
                                         *used[:, :2].max(0)])
    np.testing.assert_allclose(box[4], used[:, 2].mean())
    # Nobody, or a single joint: no box.
    nobody = np.full((17, 3), np.nan)
    single = nobody.copy()
    single[3] = [100, 200, 0.9]
    out = boxes_from_keypoints(np.stack([nobody, single]))
    assert np.isnan(out[:, :4]).all() and (out[:, 4] == 0).all()
    with pytest.raises(ValueError, match=r'\(\.\.\., J, 3\)'):
        boxes_from_keypoints(kp[..., :2])


def test_default_detector_is_mmposes_rtmdet():
    from mmengine.config import Config
    assert osp.isfile(DEFAULT_DETECTOR['config'])
    assert DEFAULT_DETECTOR['config'].endswith(
        'rtmdet_m_640-8xb32_coco-person.py')
    assert DEFAULT_DETECTOR['checkpoint'].startswith(
        'https://download.openmmlab.com/')
    cfg = Config.fromfile(DEFAULT_DETECTOR['config'])
    assert cfg.model.type == 'RTMDet' and cfg.model.bbox_head.num_classes == 1


# Detection ------------------------------------------------------------------


def _current_scope():
    from mmengine.registry import DefaultScope
    return DefaultScope.get_current_instance().scope_name


def test_detect_people_caches_per_image(recording, detector_files, tmp_path,
                                        monkeypatch):
    config, (ckpt0, ckpt1) = detector_files
    index = index_recording(recording, CAMERAS, tmp_path / 'frames',
                            frame_range=(0, 2))
    cache = tmp_path / 'boxes.npz'
    boxes, summary = detect_people(index, config, ckpt0, cache,
                                   score_thr=0.0, max_people=3,
                                   progress=False, return_summary=True)
    assert _current_scope() == 'mmpose'  # the caller's scope is back
    # Random weights at score 0: more than 3 boxes per view survive NMS.
    assert boxes.shape == (2, 2, 3, 5)
    assert np.isfinite(boxes).all()
    assert (boxes[..., 2] >= boxes[..., 0]).all()
    assert (np.diff(boxes[..., 4], axis=-1) <= 0).all()  # by score
    assert (boxes[..., 4] > 0).all() and (boxes[..., 4] < 1).all()
    assert summary == dict(images=4, detected=4, cached=0, unreadable=0,
                           unreadable_images=[], no_person=0,
                           invalidated=False)
    assert cache.is_file()

    # Same detector and images: no detector is built.
    def no_detector(*args, **kwargs):
        raise AssertionError('the detector was built again')

    monkeypatch.setattr(person_detection, '_build_detector', no_detector)
    again, summary = detect_people(index, config, ckpt0, cache,
                                   score_thr=0.0, max_people=3,
                                   progress=False, return_summary=True)
    np.testing.assert_array_equal(again, boxes)
    assert summary['cached'] == 4 and summary['detected'] == 0
    monkeypatch.undo()

    # One more frame: only its two images are detected.
    calls = []
    real = person_detection._person_boxes
    monkeypatch.setattr(person_detection, '_person_boxes',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    wider = index_recording(recording, CAMERAS, tmp_path / 'frames',
                            frame_range=(0, 3))
    more, summary = detect_people(wider, config, ckpt0, cache,
                                  score_thr=0.0, max_people=3,
                                  progress=False, return_summary=True)
    assert len(calls) == 2 and summary['detected'] == 2
    np.testing.assert_array_equal(more[:2], boxes)

    # Another checkpoint invalidates the cache.
    monkeypatch.undo()
    other, summary = detect_people(index, config, ckpt1, cache,
                                   score_thr=0.0, max_people=3,
                                   progress=False, return_summary=True)
    assert summary['invalidated'] and summary['detected'] == 4
    assert not np.allclose(other, boxes)
    # And so does another option (detections stubbed: only counted).
    monkeypatch.setattr(person_detection, '_person_boxes',
                        lambda *a, **k: np.zeros((0, 5)))
    nobody, summary = detect_people(index, config, ckpt1, cache,
                                    score_thr=0.5, max_people=3,
                                    progress=False, return_summary=True)
    assert summary['invalidated'] and summary['detected'] == 4
    assert summary['no_person'] == 4 and nobody.shape == (2, 2, 1, 5)
    assert np.isnan(nobody[..., :4]).all() and (nobody[..., 4] == 0).all()


def test_unreadable_frame_is_counted(recording, detector_files, tmp_path):
    config, (ckpt0, _) = detector_files
    index = index_recording(recording, CAMERAS, tmp_path / 'frames',
                            frame_range=(0, 2))
    # The frame cache's image of cam02, frame 1 is damaged after indexing.
    bad = index.image_path(1, 1)
    with open(bad, 'r+b') as f:
        f.truncate(os.path.getsize(bad) // 2)
    with pytest.warns(UserWarning, match='1 image.*could not be read'):
        boxes, summary = detect_people(index, config, ckpt0,
                                       tmp_path / 'boxes.npz',
                                       score_thr=0.0, max_people=2,
                                       progress=False, return_summary=True)
    assert summary['unreadable'] == 1
    assert summary['unreadable_images'] == ['cam02/000001.jpg']
    assert np.isnan(boxes[1, 1, :, :4]).all() and (boxes[1, 1, :, 4] == 0
                                                   ).all()
    assert np.isfinite(boxes[0]).all() and np.isfinite(boxes[1, 0]).all()
    # Recorded: a second call counts it again without detecting.
    with pytest.warns(UserWarning, match='could not be read'):
        _, summary = detect_people(index, config, ckpt0,
                                   tmp_path / 'boxes.npz', score_thr=0.0,
                                   max_people=2, progress=False,
                                   return_summary=True)
    assert summary['unreadable'] == 1 and summary['detected'] == 0


def test_detector_errors(recording, tmp_path):
    index = index_recording(recording, CAMERAS, tmp_path / 'frames',
                            frame_range=(0, 1))
    with pytest.raises(FileNotFoundError, match='detector config'):
        detect_people(index, tmp_path / 'missing.py', None)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        detect_people(index, 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
                      str(tmp_path / 'missing.pth'))
