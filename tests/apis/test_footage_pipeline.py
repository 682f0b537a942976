"""tools/footage_pipeline.py on the real Pose2Sim footage: four real
videos, their MediaPipe 2D and intrinsics only, end to end (frames, 2D,
pseudo-labels and the recovered rig, a few training iterations, a demo
video), a second run that reuses every stage, and the bad inputs of a
user's own recording."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmpose_epipolar.apis.footage_pipeline import (
    FootageOptions,
    run_footage_pipeline,
)
from mmpose_epipolar.datasets.calibration import (
    CalibrationError,
    load_calibration,
    relative_extrinsics,
    save_calibration_toml,
)
from mmpose_epipolar.datasets.occluder_bank import save_occluder_bank
from mmpose_epipolar.datasets.pseudo_label_file import load_pseudo_labels
from mmpose_epipolar.datasets.recording import RecordingError
from mmpose_epipolar.evaluation.rig_eval import (
    direction_error_deg,
    rotation_error_deg,
)

CAMERAS = ['cam01', 'cam02', 'cam03', 'cam04']
FOOTAGE_96 = ('configs/body_3d_keypoint/pose_resnet/footage/'
              'td-vol_cbam-res18-wasp_selfsup-1xb16-2e_footage-96x96.py')
SYNTHETIC_2D = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')


@pytest.fixture(scope='module')
def calib(demo) -> Path:
    return demo / 'calibration' / 'calibration.toml'


@pytest.fixture(scope='module')
def keypoints(demo) -> Path:
    return demo / 'mediapipe_coco17.npz'


@pytest.fixture(scope='module')
def checkpoint_2d(tmp_path_factory, repo_root) -> Path:
    """A 2D checkpoint of the 96 x 96 model (random weights: training
    mechanics, not accuracy)."""
    from mmpose_epipolar.apis.inference import init_model
    torch.manual_seed(0)
    model = init_model(str(repo_root / SYNTHETIC_2D))
    path = tmp_path_factory.mktemp('ckpt') / 'stage1_2d.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='module')
def occluder_bank(tmp_path_factory) -> Path:
    """Two real-looking RGBA occluders (a disc and a bar)."""
    disc = np.zeros((40, 40, 4), np.uint8)
    cv2.circle(disc, (20, 20), 18, (40, 90, 160, 255), -1)
    bar = np.zeros((16, 48, 4), np.uint8)
    bar[2:14, 2:46] = (200, 180, 20, 255)
    path = tmp_path_factory.mktemp('bank') / 'occluders.npz'
    save_occluder_bank(str(path), [disc, bar], dict(source='drawn'))
    return path


@pytest.fixture(scope='module')
def frame_images(demo, tmp_path_factory) -> Path:
    """The first 16 frames of every camera as image files (decoded once),
    ``<camera>/frame_<n>.jpg``."""
    out = tmp_path_factory.mktemp('frames')
    for cam in CAMERAS:
        (out / cam).mkdir()
        cap = cv2.VideoCapture(str(demo / 'videos' / f'{cam}.mp4'))
        for n in range(16):
            ok, image = cap.read()
            assert ok
            cv2.imwrite(str(out / cam / f'frame_{n:04d}.jpg'), image)
        cap.release()
    return out


def image_recording(frame_images: Path, root: Path, cameras=CAMERAS,
                    frames=range(16)) -> Path:
    """An ``images/<camera>/`` recording made of the decoded frames."""
    for cam in cameras:
        folder = root / 'images' / cam
        folder.mkdir(parents=True)
        for n in frames:
            name = f'frame_{n:04d}.jpg'
            shutil.copy(frame_images / cam / name, folder / name)
    return root


def run_tool(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, 'tools/footage_pipeline.py', *map(str, args)],
        cwd=Path(__file__).resolve().parents[2], capture_output=True,
        text=True, timeout=timeout)


def _mtimes(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*')
            if p.is_file() and p.name != 'summary.json'}


def test_end_to_end_on_real_videos_then_reused(demo, calib, keypoints,
                                               checkpoint_2d, occluder_bank,
                                               tmp_path):
    work = tmp_path / 'work'
    args = [demo, '--calib', calib, '--work-dir', work, '--keypoints',
            keypoints, '--keypoint-layout', 'coco17', '--step', '2',
            '--train-config', FOOTAGE_96, '--checkpoint-2d', checkpoint_2d,
            '--max-iters', '2', '--occluder-bank', occluder_bank,
            '--cfg-options', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False']
    first = run_tool(*args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['reused'] == []
    assert summary['frames']['frames'] == 50
    assert summary['frames']['decoded'] == dict.fromkeys(CAMERAS, 50)

    # The rig from 2D alone, against the Qualisys calibration.
    rig = {c.name: c for c in load_calibration(work / 'rig.toml')}
    cal = load_calibration(calib)
    assert list(rig) == CAMERAS
    rot, trans = relative_extrinsics(cal, 0)
    ours = [rig[c] for c in CAMERAS]
    est_rot = np.stack([c.rotation for c in ours])
    est_trans = np.stack([c.translation for c in ours])
    assert (rotation_error_deg(est_rot, rot)[1:] < 5.0).all()
    assert (direction_error_deg(est_trans, trans)[1:] < 3.0).all()
    report = summary['rig_vs_calibration']
    assert report['distance_3d_mm'] < 10.0
    assert report['reproj_px'] <= report['reproj_px_calibrated']
    for name in CAMERAS:  # the intrinsics are the calibration's
        np.testing.assert_array_equal(rig[name].intrinsics,
                                      cal[CAMERAS.index(name)].intrinsics)
    assert 'Procrustes per frame' in first.stdout

    # Labels of every view, named <camera>/<cached frame file>.
    labels = load_pseudo_labels(str(work / 'pseudo_labels.npz'))
    assert len(labels['imgname']) == 200
    assert labels['imgname'][0] == 'cam01/000000.jpg'
    assert all((work / 'frames' / n).is_file() for n in labels['imgname'])
    assert labels['valid'].mean() > 0.9
    assert summary['labels']['valid_fraction'] > 0.9

    # A few training iterations, then the demo video of one camera.
    assert (work / 'train' / 'iter_2.pth').is_file()
    video = cv2.VideoCapture(str(work / 'demo' / 'vis_cam01.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 50
    video.release()
    result = json.loads((work / 'demo' / 'cam01.json').read_text())
    people = [len(f['instances']) for f in result['frames']]
    assert people == [1] * 50

    # The second run reuses every stage and rewrites nothing.
    before = _mtimes(work)
    second = run_tool(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['reused'] == ['frames', 'labels', 'train', 'demo']
    assert _mtimes(work) == before
    assert 'reused: frames, labels, train, demo' in second.stdout


def _options(recording, calib, keypoints, work, **kwargs) -> FootageOptions:
    return FootageOptions(str(recording), str(calib), str(work),
                          keypoints=str(keypoints), until='labels', **kwargs)


def test_image_folders_and_scale_by_a_known_distance(
        frame_images, calib, keypoints, tmp_path):
    rec = image_recording(frame_images, tmp_path / 'rec')
    cal = load_calibration(calib)
    gap = np.linalg.norm(cal[0].center - cal[1].center)
    summary = run_footage_pipeline(_options(
        rec, calib, keypoints, tmp_path / 'work',
        camera_distance=('cam01', 'cam02', gap)))
    assert summary['frames']['frames'] == 16
    rig = load_calibration(tmp_path / 'work' / 'rig.toml')
    # Scaled to the real baseline, every camera centre lands near the
    # calibrated one (the rig is relative to cam01: compare centres in
    # cam01's frame).
    centres = np.stack([c.center for c in rig])
    rel_rot, rel_trans = relative_extrinsics(cal, 0)
    true = np.stack([-r.T @ t for r, t in zip(rel_rot, rel_trans)])
    assert np.linalg.norm(centres[1] - centres[0]) == pytest.approx(gap)
    error = np.linalg.norm(centres - true, axis=1)
    # Measured on these 16 frames: 0.10, 0.60, 0.55 m of a 2.85 m baseline
    # (the rig from all 100 frames is within 2 degrees in direction).
    assert (error < 0.25 * gap).all(), (error, gap)
    labels = load_pseudo_labels(str(tmp_path / 'work' / 'pseudo_labels.npz'))
    assert labels['imgname'][1] == 'cam02/frame_0000.jpg'
    # The subject's head-joint-to-ankles height as the unit instead.
    summary = run_footage_pipeline(_options(
        rec, calib, keypoints, tmp_path / 'work', subject_height=1.55))
    assert 'labels' in summary['reused']
    rig = load_calibration(tmp_path / 'work' / 'rig.toml')
    by_height = np.linalg.norm(rig[1].center - rig[0].center)
    print(f'cam01-cam02 from the subject height: {by_height:.3f} m, '
          f'calibrated {gap:.3f} m')
    assert by_height == pytest.approx(gap, rel=0.15)


def test_missing_camera_different_lengths_and_a_truncated_frame(
        frame_images, calib, keypoints, tmp_path, capsys):
    # cam04 has only 12 frames, frame 5 of cam02 is cut in half, and the
    # calibration has a fifth camera without media.
    rec = image_recording(frame_images, tmp_path / 'rec', CAMERAS[:3])
    image_recording(frame_images, tmp_path / 'rec4', ['cam04'], range(12))
    shutil.move(tmp_path / 'rec4' / 'images' / 'cam04',
                rec / 'images' / 'cam04')
    cut = rec / 'images' / 'cam02' / 'frame_0005.jpg'
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])
    cal = load_calibration(calib)
    extra = cal[0].replace(name='cam05')
    five = save_calibration_toml(tmp_path / 'five.toml', cal + [extra])
    summary = run_footage_pipeline(_options(rec, five, keypoints,
                                            tmp_path / 'work'))
    frames = summary['frames']
    assert frames['dropped_cameras'] == ['cam05']
    assert frames['missing']['cam04'] == 4
    assert frames['unreadable'] == dict(cam01=0, cam02=1, cam03=0, cam04=0)
    labels = load_pseudo_labels(str(tmp_path / 'work' / 'pseudo_labels.npz'))
    names = set(labels['imgname'])
    assert 'cam02/frame_0005.jpg' not in names
    assert 'cam04/frame_0013.jpg' not in names
    assert len(names) == 16 * 4 - 4 - 1
    out = capsys.readouterr().out
    assert 'cam05' in out and 'unreadable frames (masked)' in out


def test_nobody_in_a_view_is_masked_and_counted(frame_images, calib,
                                                keypoints, tmp_path):
    rec = image_recording(frame_images, tmp_path / 'rec')
    with np.load(keypoints) as npz:
        data = dict(npz)
    data['keypoints'] = data['keypoints'].copy()
    data['keypoints'][3, 1] = np.nan  # frame 3: cam02 saw nobody
    data['keypoints'][3, 1, :, 2] = 0
    edited = tmp_path / 'kp.npz'
    np.savez(edited, **data)
    summary = run_footage_pipeline(_options(rec, calib, edited,
                                            tmp_path / 'work'))
    assert summary['2d']['views_without_person'] == dict(
        cam01=0, cam02=1, cam03=0, cam04=0)
    labels = load_pseudo_labels(str(tmp_path / 'work' / 'pseudo_labels.npz'))
    assert 'cam02/frame_0003.jpg' not in set(labels['imgname'])
    assert len(labels['imgname']) == 16 * 4 - 1


def test_bad_recordings_and_calibrations_name_the_file(
        frame_images, calib, keypoints, tmp_path):
    rec = image_recording(frame_images, tmp_path / 'rec', CAMERAS[:1])
    # Fewer than two usable views.
    with pytest.raises(RecordingError, match='cam'):
        run_footage_pipeline(_options(rec, calib, keypoints,
                                      tmp_path / 'w1'))
    # A camera folder the calibration does not know.
    rec2 = image_recording(frame_images, tmp_path / 'rec2')
    cal = load_calibration(calib)
    three = save_calibration_toml(tmp_path / 'three.toml', cal[:3])
    with pytest.raises(RecordingError, match='cam04'):
        run_footage_pipeline(_options(rec2, three, keypoints,
                                      tmp_path / 'w2'))
    # A zero or missing focal length: the file and the field are named.
    text = Path(save_calibration_toml(tmp_path / 'four.toml', cal)).read_text()
    zero = tmp_path / 'zero.toml'
    zero.write_text(re.sub(r'matrix = \[ \[ [-+.e0-9]+',
                           'matrix = [ [ 0.0', text, count=1))
    no_matrix = tmp_path / 'no_matrix.toml'
    no_matrix.write_text(re.sub(r'matrix = .*\n', '', text, count=1))
    for bad in (zero, no_matrix):
        assert bad.read_text() != text
        with pytest.raises(CalibrationError,
                           match=rf'{bad.name}.*cam01.*matrix'):
            run_footage_pipeline(_options(rec2, bad, keypoints,
                                          tmp_path / 'w3'))


def test_command_line_errors_are_one_line(frame_images, calib, tmp_path):
    rec = image_recording(frame_images, tmp_path / 'rec')
    missing = run_tool(rec, '--calib', calib, '--work-dir', tmp_path / 'w',
                       '--keypoints', tmp_path / 'none.npz', '--until',
                       'labels')
    assert missing.returncode == 1
    assert 'footage_pipeline: error:' in missing.stderr
    assert 'none.npz' in missing.stderr
    assert 'Traceback' not in missing.stderr
    no_2d = run_tool(rec, '--calib', calib, '--work-dir', tmp_path / 'w')
    assert no_2d.returncode == 2 and '--teacher' in no_2d.stderr


def test_detector_and_2d_model_branch_then_cached(
        frame_images, calib, detector_files, sharp_model, tmp_path):
    """``--teacher`` with an mmdet detector: boxes and 2D are made, cached
    and reused (random weights: the mechanics, not the accuracy)."""
    rec = image_recording(frame_images, tmp_path / 'rec', CAMERAS[:2],
                          range(3))
    teacher = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=sharp_model.state_dict(), meta={}), teacher)
    det_config, (det_checkpoint, _) = detector_files
    opts = FootageOptions(
        str(rec), str(calib), str(tmp_path / 'work'),
        teacher=(str(Path(__file__).resolve().parents[2] / SYNTHETIC_2D),
                 str(teacher)),
        det_config=det_config, det_checkpoint=det_checkpoint,
        det_score_thr=0.0, until='labels')
    summary = run_footage_pipeline(opts)
    found = summary['2d']['found']
    assert found['detection']['images'] == 6
    assert found['detection']['detected'] == 6
    assert found['pose']['predicted'] == 6
    assert (tmp_path / 'work' / 'boxes.npz').is_file()
    assert (tmp_path / 'work' / 'teacher_2d.npz').is_file()
    kp = np.load(tmp_path / 'work' / 'keypoints_2d.npz')['keypoints']
    assert kp.shape == (3, 2, 16, 3)
    again = run_footage_pipeline(opts)
    assert again['reused'][:2] == ['frames', '2d']
    assert again['2d']['found']['detection']['detected'] == 0
    assert again['2d']['found']['pose']['predicted'] == 0
