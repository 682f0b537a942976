"""Every person's 2D on the rows of a recording: our own stage-1 network as
the top-down teacher (random weights) on real Pose2Sim frames with boxes
from the real MediaPipe 2D, the per-image cache; the MediaPipe NPZ aligned
by camera and frame offset; a DumpResults pickle matched by image path."""
import os
import pickle

import numpy as np
import pytest
import torch

from mmpose_epipolar.apis import topdown_2d
from mmpose_epipolar.apis.person_detection import boxes_from_keypoints
from mmpose_epipolar.apis.topdown_2d import (
    keypoints_for_recording,
    load_dump_results_2d,
    predict_topdown_2d,
)
from mmpose_epipolar.datasets.joint_layouts import layout_of_metainfo
from mmpose_epipolar.datasets.keypoint_files import (
    KeypointFileError,
    load_keypoints_npz,
)
from mmpose_epipolar.datasets.recording import index_recording

POSE_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
               'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')
CAMERAS = ['cam01', 'cam02']


@pytest.fixture(scope='module')
def mediapipe(demo):
    return load_keypoints_npz(demo / 'mediapipe_coco17.npz', 'coco17')


@pytest.fixture(scope='module')
def frames_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('frames')


@pytest.fixture(scope='module')
def checkpoints(sharp_model, tmp_path_factory):
    """Two random-weight checkpoints of our network (the 2D config's model
    is the synthetic config's; sharpened so that joints follow the image),
    the second slightly changed."""
    folder = tmp_path_factory.mktemp('pose')
    state = {k: v.clone() for k, v in sharp_model.state_dict().items()}
    first = folder / 'random.pth'
    torch.save(dict(state_dict=state), first)
    key = next(k for k in state if k.endswith('final_layer.weight'))
    state[key] = state[key].flip(0)  # the joints' heatmaps permuted
    second = folder / 'changed.pth'
    torch.save(dict(state_dict=state), second)
    return str(first), str(second)


def _crop_extent(box):
    """The square crop of a 96x96 model around an xyxy box: MMPose's
    padding 1.25, the aspect ratio fixed to 1."""
    centre = (box[:2] + box[2:4]) / 2
    half = 1.25 * max(box[2] - box[0], box[3] - box[1]) / 2
    return centre - half, centre + half


def test_our_model_as_teacher(recording, frames_dir, mediapipe, checkpoints,
                              repo_root, tmp_path, monkeypatch):
    index = index_recording(recording, CAMERAS, frames_dir,
                            frame_range=(0, 2))
    given = keypoints_for_recording(mediapipe, index)
    boxes = np.zeros((2, 2, 2, 5))  # slot 1: nobody (score 0) ...
    boxes[:, :, 0] = boxes_from_keypoints(given.keypoints)[:, :, 0]
    boxes[1, 1] = boxes[1, 1, ::-1].copy()  # ... except in view (1, 1)
    config = str(repo_root / POSE_CONFIG)
    cache = tmp_path / 'teacher_2d.npz'
    seq, summary = predict_topdown_2d(index, boxes, config, checkpoints[0],
                                      cache, progress=False,
                                      return_summary=True)
    assert seq.keypoints.shape == (2, 2, 2, 16, 3)
    assert seq.layout == 'h36m16'
    assert seq.cameras == tuple(CAMERAS)
    np.testing.assert_array_equal(seq.frames, index.frames)
    assert summary == dict(images=4, predicted=4, cached=0, unreadable=0,
                           unreadable_images=[], invalidated=False)
    used = boxes[..., 4] > 0
    assert np.isfinite(seq.keypoints[used]).all()
    assert np.isnan(seq.keypoints[~used][..., :2]).all()
    assert (seq.keypoints[~used][..., 2] == 0).all()
    for f, v, p in zip(*np.nonzero(used)):
        joints = seq.keypoints[f, v, p, :, :2]
        lo, hi = _crop_extent(boxes[f, v, p])
        assert (joints >= lo).all() and (joints <= hi).all()
        # Spread over the person, not all at the crop's centre.
        assert joints.std(0).max() > 5
    # Different views, different predictions.
    assert np.abs(seq.keypoints[0, 0, 0, :, :2] -
                  seq.keypoints[0, 1, 0, :, :2]).max() > 10

    # Cached: the model is not built again.
    def no_model(*args, **kwargs):
        raise AssertionError('the pose model was built again')

    monkeypatch.setattr(topdown_2d, '_build_pose_model', no_model)
    again, summary = predict_topdown_2d(index, boxes, config,
                                        checkpoints[0], cache,
                                        progress=False, return_summary=True)
    np.testing.assert_array_equal(again.keypoints, seq.keypoints)
    assert again.layout == 'h36m16' and summary['cached'] == 4
    monkeypatch.undo()

    # Other boxes in one view: only that image is predicted again.
    calls = []
    real = topdown_2d._predict
    monkeypatch.setattr(topdown_2d, '_predict',
                        lambda *a: calls.append(1) or real(*a))
    moved = boxes.copy()
    moved[0, 1, 0, :4] += 40.0
    shifted, summary = predict_topdown_2d(index, moved, config,
                                          checkpoints[0], cache,
                                          progress=False,
                                          return_summary=True)
    assert len(calls) == 1 and summary['predicted'] == 1
    np.testing.assert_array_equal(shifted.keypoints[1], seq.keypoints[1])
    assert not np.allclose(shifted.keypoints[0, 1, 0], seq.keypoints[0, 1,
                                                                     0])

    # Another checkpoint invalidates the cache.
    other, summary = predict_topdown_2d(index, boxes, config,
                                        checkpoints[1], cache,
                                        progress=False, return_summary=True)
    assert summary['invalidated'] and summary['predicted'] == 4
    assert not np.allclose(other.keypoints[used], seq.keypoints[used])


def test_unreadable_frame(recording, mediapipe, checkpoints, repo_root,
                          tmp_path):
    index = index_recording(recording, CAMERAS, tmp_path / 'frames',
                            frame_range=(0, 1))
    boxes = boxes_from_keypoints(
        keypoints_for_recording(mediapipe, index).keypoints)
    bad = index.image_path(0, 0)
    with open(bad, 'r+b') as f:
        f.truncate(os.path.getsize(bad) // 2)
    with pytest.warns(UserWarning, match='1 image.*could not be read'):
        seq, summary = predict_topdown_2d(
            index, boxes, str(repo_root / POSE_CONFIG), checkpoints[0],
            tmp_path / 'teacher_2d.npz', progress=False, return_summary=True)
    assert summary['unreadable_images'] == ['cam01/000000.jpg']
    assert np.isnan(seq.keypoints[0, 0, ..., :2]).all()
    assert (seq.keypoints[0, 0, ..., 2] == 0).all()
    assert np.isfinite(seq.keypoints[0, 1]).all()


def test_bad_boxes(recording, frames_dir, repo_root):
    index = index_recording(recording, CAMERAS, frames_dir,
                            frame_range=(0, 2))
    with pytest.raises(ValueError, match=r'\(2, 2, P, 5\)'):
        predict_topdown_2d(index, np.zeros((2, 2, 4)),
                           str(repo_root / POSE_CONFIG), None)
    with pytest.raises(FileNotFoundError, match='pose config'):
        predict_topdown_2d(index, np.zeros((2, 2, 1, 5)), 'missing.py', None)


def test_layout_of_metainfo():
    assert layout_of_metainfo(dict(dataset_name='coco'), 17) == 'coco17'
    assert layout_of_metainfo(dict(dataset_name='mpii'), 16) == 'mpii16'
    assert layout_of_metainfo(dict(dataset_name='h36m_16'), 16) == 'h36m16'
    assert layout_of_metainfo(dict(dataset_name='h36m'), 17) == 'h36m17'
    assert layout_of_metainfo(dict(dataset_name='coco_wholebody'), 133) is None
    assert layout_of_metainfo(dict(dataset_name='halpe'), 26) is None
    assert layout_of_metainfo(None, 17) is None


# Precomputed 2D -----------------------------------------------------------


def test_keypoints_for_recording_with_offsets(recording, frames_dir,
                                              mediapipe):
    # cam02's own frame 3 is timeline frame 0.
    with pytest.warns(UserWarning, match='different lengths'):
        index = index_recording(recording, CAMERAS, frames_dir,
                                offsets=dict(cam02=3), frame_range=(0, 6))
    np.testing.assert_array_equal(index.source_frames,
                                  np.stack([np.arange(6),
                                            np.arange(3, 9)], 1))
    aligned = keypoints_for_recording(mediapipe, index)
    assert aligned.keypoints.shape == (6, 2, 1, 17, 3)
    assert aligned.layout == 'coco17' and aligned.cameras == tuple(CAMERAS)
    np.testing.assert_array_equal(aligned.keypoints[:, 0],
                                  mediapipe.keypoints[0:6, 0])
    np.testing.assert_array_equal(aligned.keypoints[:, 1],
                                  mediapipe.keypoints[3:9, 1])

    # Keypoints of frames 0..6 only: cam02 lacks its frames 7 and 8.
    short = mediapipe.select(frames=np.arange(7))
    with pytest.warns(UserWarning, match='2 view'):
        aligned, summary = keypoints_for_recording(short, index,
                                                   return_summary=True)
    assert summary == dict(missing=dict(cam01=0, cam02=2), missing_total=2)
    assert np.isnan(aligned.keypoints[4:, 1, ..., :2]).all()
    assert (aligned.keypoints[4:, 1, ..., 2] == 0).all()
    np.testing.assert_array_equal(aligned.keypoints[:4, 1],
                                  mediapipe.keypoints[3:7, 1])

    # A camera of the recording that the keypoints lack.
    only = mediapipe.select(cameras=['cam01'])
    with pytest.raises(KeypointFileError,
                       match=r"mediapipe_coco17\.npz.*\['cam02'\]"):
        keypoints_for_recording(only, index)


def test_dump_results_by_image_path(recording, frames_dir, mediapipe,
                                    tmp_path):
    """A top-down DumpResults file (one entry per box) holding the real
    MediaPipe 2D and a shifted copy as a second person."""
    index = index_recording(recording, CAMERAS, frames_dir,
                            frame_range=(0, 3))
    kp = mediapipe.keypoints[:3, :2, 0]  # (3, 2, 17, 3)
    entries = []
    for f in range(3):
        for v, cam in enumerate(CAMERAS):
            if (f, v) == (2, 1):
                continue  # nothing predicted there
            img_path = f'/elsewhere/frames/{cam}/{f:06d}.jpg'
            people = [kp[f, v]] + ([kp[f, v] + [50, 0, 0]] if f == 1 else [])
            for person in people:
                entries.append(dict(
                    img_path=img_path,
                    pred_instances=dict(
                        keypoints=person[None, :, :2].astype(np.float32),
                        keypoint_scores=person[None, :, 2].astype(
                            np.float32))))
    entries.append(dict(img_path='/elsewhere/cam09/000000.jpg',
                        pred_instances=entries[0]['pred_instances']))
    path = tmp_path / 'results.pkl'
    path.write_bytes(pickle.dumps(entries))

    with pytest.warns(UserWarning, match='1 of 8 entries'):
        seq, summary = load_dump_results_2d(path, index, 'coco17',
                                            return_summary=True)
    assert summary == dict(entries=8, matched=5, unmatched=1)
    assert seq.keypoints.shape == (3, 2, 2, 17, 3) and seq.layout == 'coco17'
    np.testing.assert_allclose(seq.keypoints[:, :, 0][[0, 0, 1, 1, 2],
                                                      [0, 1, 0, 1, 0]],
                               kp[[0, 0, 1, 1, 2], [0, 1, 0, 1, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(seq.keypoints[1, :, 1, :, 0],
                               kp[1, :, :, 0] + 50, rtol=1e-6)
    np.testing.assert_array_equal(seq.num_people,
                                  [[1, 1], [2, 2], [1, 0]])

    with pytest.raises(KeypointFileError, match='17 joints.*h36m16'):
        load_dump_results_2d(path, index, 'h36m16')
    bad = tmp_path / 'bad.pkl'
    bad.write_bytes(pickle.dumps([dict(img_path='cam01/000000.jpg')]))
    with pytest.raises(KeypointFileError, match='bad.pkl, entry 0'):
        load_dump_results_2d(bad, index)
    bad.write_bytes(pickle.dumps(dict(a=1)))
    with pytest.raises(KeypointFileError, match='list of DumpResults'):
        load_dump_results_2d(bad, index)
    bad.write_bytes(pickle.dumps(entries[-1:]))
    with pytest.raises(KeypointFileError, match='none of its 1 entries'):
        load_dump_results_2d(bad, index)
