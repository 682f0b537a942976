"""Precomputed 2D: the shared MediaPipe NPZ and OpenPose-style JSON folders
made from its real numbers (missing files, empty views, several people),
and every malformed file."""
import json
from pathlib import Path

import numpy as np
import pytest

from mmpose_epipolar.datasets.joint_layouts import convert_keypoints
from mmpose_epipolar.datasets.keypoint_files import (
    KeypointFileError,
    load_keypoints,
    load_keypoints_npz,
    load_openpose_folder,
    openpose_frame_number,
)

CAMERAS = ('cam01', 'cam02', 'cam03', 'cam04')


@pytest.fixture
def npz_path(shared_data) -> Path:
    path = shared_data / 'pose2sim-demo' / 'mediapipe_coco17.npz'
    if not path.is_file():
        pytest.skip(f'{path} missing')
    return path


@pytest.fixture
def mediapipe(npz_path) -> np.ndarray:
    return np.load(npz_path)['keypoints']


def _write_json(path: Path, people) -> None:
    """One OpenPose file; ``people`` (P, J, 3) with NaN written as 0, 0, 0
    (OpenPose's undetected joint)."""
    body = [dict(person_id=[-1], pose_keypoints_2d=np.nan_to_num(
        p).ravel().tolist()) for p in people]
    path.write_text(json.dumps(dict(version=1.3, people=body)))


def _openpose_folder(root: Path, kp: np.ndarray, frames) -> Path:
    """``root/<cam>_json/<cam>_<frame:012d>_keypoints.json`` (Pose2Sim's
    names) for the frames given."""
    for v, cam in enumerate(CAMERAS):
        folder = root / f'{cam}_json'
        folder.mkdir(parents=True, exist_ok=True)
        for f in frames:
            _write_json(folder / f'{cam}_{f:012d}_keypoints.json',
                        kp[f, v][None])
    return root


def test_npz_reader_keeps_the_real_numbers(npz_path, mediapipe):
    seq = load_keypoints_npz(npz_path, 'coco17')
    assert seq.cameras == CAMERAS
    np.testing.assert_array_equal(seq.frames, np.arange(100))
    assert seq.keypoints.shape == (100, 4, 1, 17, 3)
    np.testing.assert_array_equal(seq.best_person(), mediapipe)
    np.testing.assert_array_equal(seq.num_people, np.ones((100, 4)))
    h36m = seq.converted('h36m16')
    assert h36m.layout == 'h36m16'
    np.testing.assert_array_equal(h36m.best_person(),
                                  convert_keypoints(mediapipe))
    part = seq.select(['cam03', 'cam01'], [5, 200, 7])
    np.testing.assert_array_equal(part.keypoints[0, :, 0],
                                  mediapipe[5, [2, 0]])
    assert np.isnan(part.keypoints[1, ..., :2]).all()
    assert (part.keypoints[1, ..., 2] == 0).all()
    with pytest.raises(ValueError, match=r"camera\(s\) \['cam09'\]"):
        seq.select(['cam09'])


def test_npz_with_people_and_frames(tmp_path, mediapipe):
    kp = np.full((3, 2, 2, 17, 3), np.nan)
    kp[:, :, 0] = mediapipe[:3, :2]
    kp[1, 0, 1] = mediapipe[50, 3]  # a second person in one view
    kp[2, 1, 1, :, 2] = 0.0  # a padded person with zero confidence
    path = tmp_path / 'people.npz'
    np.savez(path, keypoints=kp, cameras=np.array(['a', 'b']),
             frames=np.array([10, 12, 14]))
    seq = load_keypoints(path, layout='coco17')
    np.testing.assert_array_equal(seq.frames, [10, 12, 14])
    np.testing.assert_array_equal(seq.num_people, [[1, 1], [2, 1], [1, 1]])
    scores = seq.person_scores()
    assert scores[2, 1, 1] == 0 and scores[1, 0, 1] > 0
    best = seq.best_person()
    higher = int(scores[1, 0, 1] > scores[1, 0, 0])
    np.testing.assert_array_equal(best[1, 0], kp[1, 0, higher])


@pytest.mark.parametrize('arrays,problem', [
    (dict(keypoints=np.zeros((2, 2, 17, 3))), "lacks the field 'cameras'"),
    (dict(cameras=np.array(['a', 'b'])), "lacks the field 'keypoints'"),
    (dict(keypoints=np.zeros((2, 2, 17)), cameras=np.array(['a', 'b'])),
     r"'keypoints' must have shape \(F, V, J, 3\)"),
    (dict(keypoints=np.zeros((2, 2, 17, 3)), cameras=np.array(['a'])),
     "'cameras' must hold 2 names"),
    (dict(keypoints=np.zeros((2, 2, 17, 3)), cameras=np.array(['a', 'a'])),
     'repeats a name'),
    (dict(keypoints=np.zeros((2, 2, 17, 3)), cameras=np.array(['a', 'b']),
          frames=np.array([3, 3])), "'frames' must hold 2 increasing"),
    (dict(keypoints=np.zeros((2, 2, 16, 3)), cameras=np.array(['a', 'b'])),
     "16 joints, layout 'coco17' has 17"),
    (dict(keypoints=np.array(['x']), cameras=np.array(['a'])),
     "'keypoints' must hold numbers"),
    (dict(keypoints=np.array([None, 1], dtype=object),
          cameras=np.array(['a'])), 'plain arrays'),
])
def test_bad_npz_names_file_and_field(tmp_path, arrays, problem):
    path = tmp_path / 'bad.npz'
    np.savez(path, **arrays)
    with pytest.raises(KeypointFileError, match=problem) as info:
        load_keypoints(path, layout='coco17')
    assert str(path) in str(info.value)


def test_openpose_round_trip_from_real_numbers(tmp_path, mediapipe):
    frames = list(range(0, 40, 2))
    root = _openpose_folder(tmp_path / 'pose', mediapipe, frames)
    # cam02 lacks two frames; nobody in cam03 at frame 6; two people in
    # cam01 at frame 8 (a weaker second one first); an undetected joint.
    for f in (10, 14):
        (root / 'cam02_json' / f'cam02_{f:012d}_keypoints.json').unlink()
    _write_json(root / 'cam03_json' / 'cam03_000000000006_keypoints.json',
                np.zeros((0, 17, 3)))
    weak = mediapipe[8, 0].copy()
    weak[:, :2] += 300.0
    weak[:, 2] *= 0.5
    _write_json(root / 'cam01_json' / 'cam01_000000000008_keypoints.json',
                np.stack([weak, mediapipe[8, 0]]))
    undetected = mediapipe[12, 3].copy()
    undetected[4] = np.nan
    _write_json(root / 'cam04_json' / 'cam04_000000000012_keypoints.json',
                undetected[None])
    (root / 'cam04_json' / 'notes.json').write_text('{"not": "openpose"}')

    seq = load_keypoints(root, layout='coco17', cameras=CAMERAS)
    assert seq.cameras == CAMERAS
    np.testing.assert_array_equal(seq.frames, frames)
    assert seq.keypoints.shape == (20, 4, 2, 17, 3)
    best = seq.best_person()
    expected = mediapipe[frames].copy()
    expected[[5, 7], 1] = np.nan  # frames 10 and 14 of cam02
    expected[3, 2] = np.nan  # frame 6 of cam03
    expected[6, 3, 4] = np.nan  # the undetected joint
    for where in ([5, 7], 1), (3, 2), (6, 3, 4):
        expected[where + (Ellipsis, 2)] = 0.0
    # JSON keeps Python floats exactly.
    np.testing.assert_array_equal(best, expected)
    counts = seq.num_people
    assert counts[4, 0] == 2 and counts[3, 2] == 0 and counts[5, 1] == 0
    assert counts.sum() == 20 * 4 - 3 + 1
    np.testing.assert_array_equal(seq.keypoints[4, 0, 0], weak)
    # Without a camera list: every folder with keypoint files, sorted.
    auto = load_openpose_folder(root)
    assert auto.cameras == CAMERAS and auto.layout is None
    np.testing.assert_array_equal(auto.keypoints, seq.keypoints)


def test_openpose_frame_numbers():
    assert openpose_frame_number('a/cam01_000000000012_keypoints.json') == 12
    assert openpose_frame_number('take2_cam3_7_keypoints.json') == 7
    assert openpose_frame_number('cam01_000012.json') is None
    with pytest.raises(KeypointFileError, match='no frame number'):
        openpose_frame_number('x/cam01_keypoints.json')


def _single_camera(tmp_path: Path, content: str,
                   name: str = 'c_000000000003_keypoints.json') -> Path:
    folder = tmp_path / 'root' / 'c'
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text(content)
    return path


@pytest.mark.parametrize('content,problem', [
    ('{"people": [{"pose_keypoints_2d": [1, 2', 'is not valid JSON'),
    ('{"version": 1.3}', "lacks the field 'people'"),
    ('{"people": {"a": 1}}', "'people' must be a list"),
    ('{"people": [{"face_keypoints_2d": []}]}',
     r"lacks the field 'people\[0\]\.pose_keypoints_2d'"),
    ('{"people": [{"pose_keypoints_2d": ' + json.dumps([1.0] * 51) + '}, '
     '{"pose_keypoints_2d": ' + json.dumps([1.0] * 50) + '}]}',
     r"'people\[1\]\.pose_keypoints_2d' holds 50 values, expected 51"),
    ('{"people": [{"pose_keypoints_2d": ' + json.dumps([1.0] * 48) + '}]}',
     'holds 48 values, expected 51'),
    ('{"people": [{"pose_keypoints_2d": [[1, 2, 3]]}]}', 'flat list'),
    ('{"people": [{"pose_keypoints_2d": ["a", "b", "c"]}]}', 'flat list'),
])
def test_bad_openpose_file_names_file_and_field(tmp_path, content, problem):
    path = _single_camera(tmp_path, content)
    with pytest.raises(KeypointFileError, match=problem) as info:
        load_keypoints(path.parents[1], layout='coco17')
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


def test_bad_openpose_folders(tmp_path):
    path = _single_camera(tmp_path, '{"people": []}')
    root = path.parents[1]
    with pytest.raises(KeypointFileError, match='nobody was found'):
        load_openpose_folder(root)
    assert load_openpose_folder(root, layout='coco17').num_people.sum() == 0
    (path.parent / 'c_3_keypoints.json').write_text('{"people": []}')
    with pytest.raises(KeypointFileError, match='both hold frame 3'):
        load_openpose_folder(root, layout='coco17')
    with pytest.raises(KeypointFileError,
                       match=r"no folder for camera\(s\) \['d'\]"):
        load_openpose_folder(root, cameras=['c', 'd'])
    (root / 'c_json').mkdir()
    with pytest.raises(KeypointFileError, match="camera 'c'"):
        load_openpose_folder(root)
    with pytest.raises(KeypointFileError, match='expected an .npz file'):
        (tmp_path / 'x.csv').write_text('1,2')
        load_keypoints(tmp_path / 'x.csv')
    with pytest.raises(FileNotFoundError):
        load_keypoints(tmp_path / 'missing.npz')
