"""Calibration files: the real Pose2Sim/Qualisys TOML, OpenCV FileStorage,
Human3.6M ``cameras.pkl``, the TOML writer and every malformed input."""
import json
import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import tomllib

from mmpose_epipolar.datasets.calibration import (
    CalibrationError,
    CameraCalibration,
    camera_arrays,
    load_calibration,
    relative_extrinsics,
    save_calibration_toml,
    scale_for_distance,
    scale_rig,
    with_extrinsics,
)

CAM01_K = [[1681.244873046875, 0.0, 532.97369384375],
           [0.0, 1681.075439453125, 948.137390140625], [0.0, 0.0, 1.0]]
CAM01_DIST = [-0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05]
CAM01_RVEC = [1.6882754799999995, 1.0483220499999997, -0.4195585200000001]
CAM01_T = [0.3211048899999996, 0.9563320600000006, 2.8907130499999996]


@pytest.fixture
def demo(shared_data) -> Path:
    folder = shared_data / 'pose2sim-demo'
    if not (folder / 'calibration' / 'calibration.toml').is_file():
        pytest.skip(f'pose2sim-demo not found at {folder}')
    return folder


@pytest.fixture
def toml_text(demo) -> str:
    return (demo / 'calibration' / 'calibration.toml').read_text()


def test_pose2sim_toml_holds_the_files_numbers(demo):
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    assert [c.name for c in cams] == ['cam01', 'cam02', 'cam03', 'cam04']
    cam = cams[0]
    assert cam.image_size == (1088, 1920)
    np.testing.assert_array_equal(cam.intrinsics, CAM01_K)
    # Four coefficients in the file; k3 = 0 completes OpenCV's five.
    np.testing.assert_array_equal(cam.distortion, CAM01_DIST + [0.0])
    np.testing.assert_array_equal(
        cam.rotation, cv2.Rodrigues(np.array(CAM01_RVEC))[0])
    np.testing.assert_array_equal(cam.translation, CAM01_T)
    param = cam.to_camera_param()
    np.testing.assert_array_equal(param['f'], [CAM01_K[0][0], CAM01_K[1][1]])
    np.testing.assert_array_equal(param['p'], CAM01_DIST[2:])
    assert (param['w'], param['h']) == (1088, 1920)
    with pytest.raises(ValueError, match='read-only'):
        cam.intrinsics[0, 0] = 1.0  # a frozen camera


def _dlt(norm: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """Linear triangulation of one point from V views: (V, 2), (V, 3, 4)."""
    rows = np.concatenate([norm[:, :1] * proj[:, 2] - proj[:, 0],
                           norm[:, 1:] * proj[:, 2] - proj[:, 1]])
    x = np.linalg.svd(rows)[2][-1]
    return x[:3] / x[3]


def test_projection_matches_opencv_and_the_real_2d(demo):
    """Joints triangulated (OpenCV undistortion, numpy DLT) from the four
    calibrated views land on MediaPipe's 2D when projected with our
    cameras: the world-to-camera convention, the lens model and the
    Rodrigues conversion are right (a transposed rotation is far off)."""
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    kp = np.load(demo / 'mediapipe_coco17.npz')['keypoints']  # F, V, 17, 3
    frames, joints = range(0, 100, 10), [5, 6, 11, 12]  # shoulders, hips
    proj = np.stack([np.hstack([c.rotation, c.translation[:, None]])
                     for c in cams])
    norm = np.stack([cv2.undistortPoints(
        kp[list(frames)][:, v][:, joints, :2].reshape(-1, 1, 2),
        c.intrinsics, c.distortion)[:, 0] for v, c in enumerate(cams)])
    world = np.stack([_dlt(norm[:, i], proj) for i in range(norm.shape[1])])
    observed = kp[list(frames)][:, :, joints, :2].transpose(1, 0, 2, 3)
    for v, cam in enumerate(cams):
        ours = cam.project(world)
        ref = cv2.projectPoints(world, cv2.Rodrigues(cam.rotation)[0],
                                cam.translation, cam.intrinsics,
                                cam.distortion)[0][:, 0]
        np.testing.assert_allclose(ours, ref, atol=1e-6)
        err = np.linalg.norm(ours - observed[v].reshape(-1, 2), axis=-1)
        assert np.median(err) < 30.0, (cam.name, np.median(err))
        wrong = cam.replace(rotation=cam.rotation.T).project(world)
        assert np.median(np.linalg.norm(
            wrong - observed[v].reshape(-1, 2), axis=-1)) > 200.0
    # Camera-frame projection ignores the extrinsics.
    in_cam = world @ cams[2].rotation.T + cams[2].translation
    np.testing.assert_allclose(cams[2].project(in_cam, world=False),
                               cams[2].project(world), atol=1e-9)


def test_h36m_cameras_pkl(shared_data):
    path = shared_data / 'mmpose-testdata' / 'h36m' / 'cameras.pkl'
    if not path.is_file():
        pytest.skip(f'{path} missing')
    with open(path, 'rb') as f:
        raw = pickle.load(f)
    cams = load_calibration(path, subject='S1')
    assert [c.name for c in cams] == ['54138969', '55011271', '58860488',
                                      '60457274']
    ref = raw[('S1', '54138969')]
    cam = cams[0]
    assert cam.image_size == (ref['w'], ref['h'])
    np.testing.assert_array_equal(np.diag(cam.intrinsics)[:2],
                                  ref['f'].ravel())
    np.testing.assert_array_equal(cam.distortion, [
        ref['k'][0, 0], ref['k'][1, 0], ref['p'][0, 0], ref['p'][1, 0],
        ref['k'][2, 0]])
    # The file's convention X_cam = R.T (X - T): the centre is T.
    np.testing.assert_allclose(cam.center, ref['T'].ravel(), atol=1e-12)
    x = np.array([[0.3, -0.2, 0.9], [-0.5, 0.4, 1.6]])
    x_cam = (ref['R'].T @ (x - ref['T'].ravel()).T).T
    np.testing.assert_allclose(cam.project(x), cam.project(x_cam,
                                                           world=False),
                               atol=1e-9)
    with pytest.raises(CalibrationError, match=r"subjects \['S1', 'S2', 'S3'"):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="no subject 'S12'"):
        load_calibration(path, subject='S12')


def test_h36m_zero_focal_names_file_camera_field(tmp_path, shared_data):
    path = shared_data / 'mmpose-testdata' / 'h36m' / 'cameras.pkl'
    if not path.is_file():
        pytest.skip(f'{path} missing')
    with open(path, 'rb') as f:
        raw = pickle.load(f)
    bad = {k: v for k, v in raw.items() if k[0] == 'S5'}
    bad[('S5', '58860488')] = dict(bad[('S5', '58860488')],
                                   f=np.zeros((2, 1)))
    out = tmp_path / 'cameras.pkl'
    out.write_bytes(pickle.dumps(bad))
    with pytest.raises(CalibrationError) as info:
        load_calibration(out)
    msg = str(info.value)
    assert str(out) in msg and "'58860488'" in msg and "'f, c'" in msg
    assert 'positive focal' in msg


def test_toml_round_trip_is_exact(demo, tmp_path):
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    # A recovered rig: one camera unposed, names needing quotes.
    renamed = [c.replace(name=n) for c, n in
               zip(cams, ['cam 01', 'cam"2', 'cam03', 'cam04'])]
    rig = renamed[:3] + [renamed[3].replace(rotation=None, translation=None)]
    out = save_calibration_toml(tmp_path / 'rig.toml', rig,
                                metadata=dict(unit='up to scale'))
    back = load_calibration(out)
    assert [c.name for c in back] == ['cam 01', 'cam"2', 'cam03', 'cam04']
    for a, b in zip(rig, back):
        assert a.image_size == b.image_size
        np.testing.assert_array_equal(a.intrinsics, b.intrinsics)
        np.testing.assert_array_equal(a.distortion, b.distortion)
        assert a.has_extrinsics == b.has_extrinsics
        if a.has_extrinsics:
            np.testing.assert_array_equal(a.translation, b.translation)
            np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-14)
    # The layout Pose2Sim and Anipose read: tables, sizes, 5 coefficients.
    with open(out, 'rb') as f:
        tables = tomllib.load(f)
    assert tables['metadata'] == dict(unit='up to scale')
    assert tables['cam03']['size'] == [1088.0, 1920.0]
    assert len(tables['cam03']['distortions']) == 5
    assert tables['cam03']['fisheye'] is False
    assert 'rotation' not in tables['cam04']
    np.testing.assert_allclose(tables['cam 01']['rotation'], CAM01_RVEC,
                               atol=1e-14)


def test_scale_and_relative_extrinsics(demo):
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    gap = np.linalg.norm(cams[0].center - cams[1].center)
    assert 1.0 < gap < 5.0  # metres, a studio rig
    factor = scale_for_distance(cams, 'cam01', 'cam02', 1000.0)
    np.testing.assert_allclose(factor, 1000.0 / gap)
    scaled = scale_rig(cams, factor)
    np.testing.assert_allclose(
        np.linalg.norm(scaled[0].center - scaled[1].center), 1000.0)
    np.testing.assert_array_equal(scaled[2].rotation, cams[2].rotation)
    # Relative to cam01 (the engine's frame): X_v = R_v X_0 + t_v.
    rot, trans = relative_extrinsics(cams, 0)
    np.testing.assert_allclose(rot[0], np.eye(3), atol=1e-15)
    np.testing.assert_allclose(trans[0], 0.0, atol=1e-15)
    x = np.array([0.2, 1.0, -0.3])
    x0 = cams[0].rotation @ x + cams[0].translation
    for v in range(4):
        np.testing.assert_allclose(rot[v] @ x0 + trans[v],
                                   cams[v].rotation @ x + cams[v].translation,
                                   atol=1e-12)
    # Attaching the relative rig reproduces the same projections.
    rig = with_extrinsics(cams, rot, trans, valid=[True, True, False, True])
    assert not rig[2].has_extrinsics
    np.testing.assert_allclose(rig[3].project(x0[None]),
                               cams[3].project(x[None]), atol=1e-9)
    k, d = camera_arrays(cams)
    assert k.shape == (4, 3, 3) and d.shape == (4, 5)
    with pytest.raises(ValueError, match='positive'):
        scale_rig(cams, 0.0)


def _write_opencv(path: Path, cams, sections: bool = False,
                  rodrigues: bool = False) -> None:
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for cam in cams:
        if sections:
            fs.startWriteStruct(cam.name, cv2.FileNode_MAP)
        fs.write('image_width', cam.image_size[0])
        fs.write('image_height', cam.image_size[1])
        fs.write('camera_matrix', cam.intrinsics)
        fs.write('distortion_coefficients', cam.distortion[:, None])
        rot = cv2.Rodrigues(cam.rotation)[0] if rodrigues else cam.rotation
        fs.write('rotation', rot)
        fs.write('translation', cam.translation[:, None])
        if sections:
            fs.endWriteStruct()
    fs.release()


def _assert_same(a: CameraCalibration, b: CameraCalibration,
                 rot_tol: float = 0.0) -> None:
    assert (a.name, a.image_size) == (b.name, b.image_size)
    np.testing.assert_array_equal(a.intrinsics, b.intrinsics)
    np.testing.assert_array_equal(a.distortion, b.distortion)
    np.testing.assert_array_equal(a.translation, b.translation)
    np.testing.assert_allclose(a.rotation, b.rotation, atol=rot_tol)


@pytest.mark.parametrize('ext', ['.yml', '.json', '.xml'])
def test_opencv_filestorage_round_trip(demo, tmp_path, ext):
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    # One camera per file, named by the file.
    folder = tmp_path / 'per_camera'
    folder.mkdir()
    for cam in cams[:3]:
        _write_opencv(folder / f'{cam.name}{ext}', [cam],
                      rodrigues=cam.name == 'cam02')
    (folder / 'notes.txt').write_text('not a calibration')
    back = load_calibration(folder)
    assert [c.name for c in back] == ['cam01', 'cam02', 'cam03']
    for a, b in zip(cams, back):
        _assert_same(a, b, rot_tol=1e-14)
    single = load_calibration(folder / f'cam03{ext}')
    _assert_same(cams[2], single[0])
    # One camera per top-level section, named by the section.
    sections = tmp_path / f'all{ext}'
    _write_opencv(sections, cams, sections=True)
    back = load_calibration(sections)
    assert [c.name for c in back] == [c.name for c in cams]
    for a, b in zip(cams, back):
        _assert_same(a, b)


def test_opencv_plain_json_lists_and_optional_fields(tmp_path):
    """JSON written by hand (plain lists, no opencv-matrix wrappers),
    without size or extrinsics."""
    path = tmp_path / 'left.json'
    path.write_text(json.dumps(dict(
        camera_name='left', camera_matrix=[[800, 0, 320], [0, 810, 240],
                                           [0, 0, 1]],
        distortion_coefficients=[0.1, -0.05, 0.001, 0.002, 0.01, 0, 0, 0])))
    (cam, ) = load_calibration(path)
    assert cam.name == 'left' and cam.image_size is None
    assert not cam.has_extrinsics
    np.testing.assert_array_equal(cam.intrinsics[1], [0, 810, 240])
    np.testing.assert_array_equal(cam.distortion,
                                  [0.1, -0.05, 0.001, 0.002, 0.01])


def _edit_field(text: str, camera: str, field: str, value) -> str:
    """The TOML text with one field of one camera table replaced (value a
    string) or removed (value None)."""
    out, table = [], None
    for line in text.splitlines():
        header = re.match(r'^\[(.+)\]$', line)
        if header:
            table = header.group(1)
        elif table == camera and re.match(rf'^{field}\s*=', line):
            if value is None:
                continue
            line = f'{field} = {value}'
        out.append(line)
    return '\n'.join(out) + '\n'


BAD_TOML = [
    ('cam01', 'matrix', '[[0.0, 0, 532.9], [0, 1681.0, 948.1], [0, 0, 1]]',
     'positive focal'),
    ('cam02', 'matrix', '[[-5.0, 0, 532.9], [0, 1681.0, 948.1], [0, 0, 1]]',
     'positive focal'),
    ('cam03', 'matrix', None, 'is missing'),
    ('cam04', 'matrix', '[[1681.0, 0, 532.9], [0, 1681.0, 948.1]]',
     r'shape \(3, 3\)'),
    ('cam01', 'matrix', '[[1681.0, 0, nan], [0, 1681.0, 948.1], [0, 0, 1]]',
     'NaN or inf'),
    ('cam02', 'matrix', '[[1681.0, 0, 532.9], [0, 1681.0, 948.1], [0, 1, 1]]',
     r'\[0, 0, 1\]'),
    ('cam02', 'distortions', '[0.1, 0.2, 0.3]', '4 or 5 coefficients'),
    ('cam03', 'distortions', '[0.1, 0.2, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0]',
     'rational'),
    ('cam01', 'distortions', None, 'is missing'),
    ('cam04', 'size', None, 'is missing'),
    ('cam04', 'size', '[1088.0, 0.0]', 'positive whole'),
    ('cam03', 'translation', None, 'is missing'),
    ('cam03', 'translation', '[1.0, inf, 2.0]', 'NaN or inf'),
    ('cam02', 'rotation', '[[1, 0, 0], [0, 1, 0], [0, 0.5, 1]]',
     'is not a rotation'),
    ('cam02', 'rotation', '[1.0, 2.0]', 'Rodrigues'),
    ('cam01', 'fisheye', 'true', 'fisheye'),
    ('cam01', 'matrix', '"K"', 'must hold numbers'),
]


@pytest.mark.parametrize('camera,field,value,problem', BAD_TOML)
def test_bad_toml_names_file_camera_and_field(toml_text, tmp_path, camera,
                                              field, value, problem):
    path = tmp_path / 'bad.toml'
    edited = _edit_field(toml_text, camera, field, value)
    assert edited != toml_text
    path.write_text(edited)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert str(path) in msg and f"camera '{camera}'" in msg
    assert f"field '{field}'" in msg
    assert re.search(problem, msg), msg


def test_bad_files(toml_text, tmp_path):
    syntax = tmp_path / 'syntax.toml'
    syntax.write_text(toml_text.replace('[cam02]', '[cam02'))
    with pytest.raises(CalibrationError, match=r'syntax\.toml is not valid '
                       'TOML'):
        load_calibration(syntax)
    empty = tmp_path / 'empty.toml'
    empty.write_text('[metadata]\nadjusted = false\n')
    with pytest.raises(CalibrationError, match='holds no camera'):
        load_calibration(empty)
    twice = tmp_path / 'twice.toml'
    twice.write_text(toml_text.replace('name = "cam02"', 'name = "cam01"'))
    with pytest.raises(CalibrationError, match="'cam01' appears twice"):
        load_calibration(twice)
    garbage = tmp_path / 'garbage.yml'
    garbage.write_text('%YAML:1.0\n---\ncamera_matrix: [1, 2\n')
    with pytest.raises(CalibrationError, match='garbage.yml'):
        load_calibration(garbage)
    no_k = tmp_path / 'cam.yml'
    fs = cv2.FileStorage(str(no_k), cv2.FILE_STORAGE_WRITE)
    fs.write('distortion_coefficients', np.zeros((5, 1)))
    fs.release()
    with pytest.raises(CalibrationError, match="no field 'camera_matrix'"):
        load_calibration(no_k)
    with pytest.raises(CalibrationError, match=r"unknown extension '\.txt'"):
        (tmp_path / 'calib.txt').write_text('x')
        load_calibration(tmp_path / 'calib.txt')
    with pytest.raises(FileNotFoundError, match='missing.toml'):
        load_calibration(tmp_path / 'missing.toml')


def test_opencv_zero_focal_and_half_size(tmp_path):
    path = tmp_path / 'side.yml'
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write('image_width', 640)
    fs.write('camera_matrix', np.array([[800., 0, 320], [0, 0., 240],
                                        [0, 0, 1]]))
    fs.write('distortion_coefficients', np.zeros((1, 5)))
    fs.release()
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    msg = str(info.value)
    assert str(path) in msg and "camera 'side'" in msg
    assert "field 'image_height' is missing" in msg
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write('image_width', 640)
    fs.write('image_height', 480)
    fs.write('camera_matrix', np.array([[800., 0, 320], [0, 0., 240],
                                        [0, 0, 1]]))
    fs.write('distortion_coefficients', np.zeros((1, 5)))
    fs.release()
    with pytest.raises(CalibrationError,
                       match=r"camera 'side': field 'camera_matrix' must "
                       'have positive focal'):
        load_calibration(path)


def test_cameras_made_in_code_are_checked():
    with pytest.raises(CalibrationError, match="camera 'c': field "
                       "'intrinsics' must have positive focal"):
        CameraCalibration('c', (640, 480), np.diag([0.0, 500.0, 1.0]),
                          np.zeros(5))
    with pytest.raises(CalibrationError, match="'translation' is missing"):
        CameraCalibration('c', (640, 480), np.diag([500.0, 500.0, 1.0]),
                          np.zeros(5), rotation=np.eye(3))
