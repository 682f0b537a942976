"""The mmdet + Pose ResNet demo on real images (random weights: mechanics)."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
H36M_IMAGE = ('mmpose-testdata/h36m/S8/S8_WalkDog_1.55011271/'
              'S8_WalkDog_1.55011271_000026.jpg')
COCO_IMAGE = 'mmpose-testdata/coco/000000196141.jpg'


@pytest.fixture(scope='module')
def demo(repo_root):
    spec = importlib.util.spec_from_file_location(
        'topdown_3d_demo',
        str(repo_root / 'demo/topdown_3d_demo_with_mmdet.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def schema(repo_root):
    with open(repo_root / 'demo/result_schema.json') as f:
        return json.load(f)


@pytest.fixture(scope='module')
def images(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp('inputs')
    for rel in (H36M_IMAGE, COCO_IMAGE):
        shutil.copy(shared_data / rel, folder)
    return folder


def run_demo(demo, repo_root, *args):
    with pytest.warns(UserWarning, match='RANDOM'):
        return demo.main([str(repo_root / SYNTHETIC_CONFIG), *map(str, args)])


def load_valid(path, schema):
    from mmpose_epipolar.apis.results_io import validate_schema
    with open(path) as f:
        document = json.load(f)
    errors = validate_schema(document, schema)
    assert not errors, errors[:5]
    return document


def check_instance(instance, image_size, unit):
    num = 16
    assert len(instance['keypoints']) == num
    assert len(instance['keypoint_scores']) == num
    assert len(instance['keypoints_depth']) == num
    assert len(instance['keypoints_3d']) == num
    assert instance['keypoints_3d_unit'] == unit
    x0, y0, x1, y1 = instance['bbox']
    assert x1 > x0 and y1 > y0
    # Keypoints inside the padded box.
    kpts = np.asarray(instance['keypoints'])
    pad = 0.125 * max(x1 - x0, y1 - y0) + 1
    assert np.all(kpts[:, 0] >= x0 - pad) and np.all(kpts[:, 0] <= x1 + pad)
    assert np.all(kpts[:, 1] >= y0 - pad) and np.all(kpts[:, 1] <= y1 + pad)
    if unit == 'camera':
        assert instance['root_depth'] > 0
        assert np.all(np.asarray(instance['keypoints_3d'])[:, 2] > 0)


def vis_size(image_shape, people, max_3d=3):
    """(h, w) of the visualisation: image beside square 3D panels."""
    h, w = image_shape[:2]
    side = max(h, w)
    return side, w + side * min(people, max_3d)


def test_folder_with_bboxes_file_and_camera(demo, repo_root, images,
                                            tmp_path, schema, shared_data):
    boxes = {
        os.path.basename(H36M_IMAGE): [[330, 250, 640, 960, 0.9],
                                       [100, 120, 420, 700]],
        os.path.basename(COCO_IMAGE): [[50, 40, 300, 420]],
    }
    boxes_file = tmp_path / 'boxes.json'
    boxes_file.write_text(json.dumps(boxes))
    out = tmp_path / 'out'
    assert run_demo(demo, repo_root, '--input', images, '--output-root', out,
                    '--bboxes', boxes_file, '--focal', 1145) == 0
    for name, count in [(H36M_IMAGE, 2), (COCO_IMAGE, 1)]:
        stem = os.path.splitext(os.path.basename(name))[0]
        image = cv2.imread(str(shared_data / name))
        document = load_valid(out / f'{stem}.json', schema)
        assert document['input_type'] == 'image'
        assert document['image_size'] == [image.shape[1], image.shape[0]]
        assert document['detector'] == 'bboxes-file'
        assert document['camera_intrinsics'][0] == [
            1145.0, 0.0, image.shape[1] / 2
        ]
        instances = document['frames'][0]['instances']
        assert len(instances) == count
        for instance in instances:
            check_instance(instance, image.shape, 'camera')
            assert instance['root_depth_source'] == 'estimated'
        assert instances[0]['bbox'] == pytest.approx(
            np.asarray(boxes[os.path.basename(name)][0][:4]).tolist())
        vis = cv2.imread(str(out / f'vis_{stem}.jpg'))
        assert vis is not None and vis.shape[:2] == vis_size(
            image.shape, count)


def test_detector_on_real_image(demo, repo_root, shared_data, tmp_path,
                                schema):
    # Random RTMDet weights: every box has a score near 0.5 and no class
    # preference, so keep every class and take the top three.
    out = tmp_path / 'out'
    image_path = shared_data / COCO_IMAGE
    assert run_demo(demo, repo_root, '--input', image_path, '--output-root',
                    out, '--det-cat-id', -1, '--bbox-thr', 0.0,
                    '--max-people', 3) == 0
    document = load_valid(out / '000000196141.json', schema)
    assert document['detector'].startswith('mmdet::rtmdet')
    frame = document['frames'][0]
    assert len(frame['instances']) == 3
    assert frame['timing_ms']['detector'] > 0 and frame['timing_ms'][
        'pose'] > 0
    image = cv2.imread(str(image_path))
    for instance in frame['instances']:
        check_instance(instance, image.shape, 'image_px_root_relative')
        assert instance['root_depth'] is None
    scores = [i['bbox_score'] for i in frame['instances']]
    assert scores == sorted(scores, reverse=True)
    vis = cv2.imread(str(out / 'vis_000000196141.jpg'))
    assert vis.shape[:2] == vis_size(image.shape, 3)


def test_zero_people(demo, repo_root, shared_data, tmp_path, schema,
                     capsys):
    boxes_file = tmp_path / 'none.json'
    boxes_file.write_text('[]')
    out = tmp_path / 'out'
    image_path = shared_data / H36M_IMAGE
    assert run_demo(demo, repo_root, '--input', image_path, '--output-root',
                    out, '--bboxes', boxes_file) == 0
    assert 'no person detected' in capsys.readouterr().out
    stem = os.path.splitext(os.path.basename(H36M_IMAGE))[0]
    document = load_valid(out / f'{stem}.json', schema)
    assert document['frames'][0]['instances'] == []
    vis = cv2.imread(str(out / f'vis_{stem}.jpg'))
    assert vis.shape == cv2.imread(str(image_path)).shape


def test_video_whole_image(demo, repo_root, shared_data, tmp_path, schema):
    image = cv2.imread(str(shared_data / COCO_IMAGE))
    image = cv2.resize(image, (320, 240))
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (320, 240))
    for shift in range(3):
        writer.write(np.roll(image, 20 * shift, axis=1))
    writer.release()
    out = tmp_path / 'out'
    assert run_demo(demo, repo_root, '--input', video, '--output-root', out,
                    '--whole-image', '--focal', 300, '--root-depth',
                    4000) == 0
    document = load_valid(out / 'clip.json', schema)
    assert document['input_type'] == 'video'
    assert [f['frame_index'] for f in document['frames']] == [0, 1, 2]
    for frame in document['frames']:
        (instance, ) = frame['instances']
        assert instance['bbox'] == [0, 0, 320, 240]
        assert instance['root_depth'] == 4000
        assert instance['root_depth_source'] == 'given'
        check_instance(instance, (240, 320), 'camera')
    reader = cv2.VideoCapture(str(out / 'vis_clip.mp4'))
    frames = 0
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        assert frame.shape[:2] == vis_size((240, 320), 1)
        frames += 1
    assert frames == 3


def test_unreadable_image_and_missing_files(demo, repo_root, tmp_path,
                                            capsys, shared_data):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'\x00not an image')
    assert run_demo(demo, repo_root, '--input', broken, '--output-root',
                    tmp_path / 'o', '--whole-image') == 1
    assert 'broken.jpg' in capsys.readouterr().err
    # A missing checkpoint: named, non-zero, before any work.
    config = str(repo_root / SYNTHETIC_CONFIG)
    assert demo.main([config, str(tmp_path / 'nothere.pth'), '--input',
                      str(shared_data / H36M_IMAGE), '--output-root',
                      str(tmp_path / 'o'), '--whole-image']) == 1
    assert 'nothere.pth' in capsys.readouterr().err
    assert demo.main([config, '--input', str(tmp_path / 'absent.jpg'),
                      '--output-root', str(tmp_path / 'o'),
                      '--whole-image']) == 1
    assert 'absent.jpg' in capsys.readouterr().err
    with pytest.warns(UserWarning, match='RANDOM'):
        assert demo.main([config, '--input', str(shared_data / H36M_IMAGE),
                          '--output-root', str(tmp_path / 'o'),
                          '--det-checkpoint',
                          str(tmp_path / 'det_missing.pth')]) == 1
    assert 'det_missing.pth' in capsys.readouterr().err


def test_command_line_exit_status(repo_root, tmp_path, shared_data):
    """The script as users run it: a missing checkpoint exits 1 and names
    the file."""
    result = subprocess.run(
        [sys.executable, 'demo/topdown_3d_demo_with_mmdet.py',
         SYNTHETIC_CONFIG, str(tmp_path / 'missing.pth'), '--input',
         str(shared_data / H36M_IMAGE), '--output-root', str(tmp_path),
         '--whole-image'],
        cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'missing.pth' in result.stderr
    assert 'Traceback' not in result.stderr


class _RunsCommand:

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def test_unloadable_checkpoints_one_line_exit_1(demo, repo_root, tmp_path,
                                                capsys, shared_data):
    """Empty, truncated, garbage and crafted pose or detector checkpoints:
    exit 1, one line naming the file, no code run."""
    import torch
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict={'w': torch.ones(64)}), good)
    marker = tmp_path / 'PWNED'
    data = good.read_bytes()
    files = dict(empty=b'', truncated=data[:len(data) // 2],
                 garbage=bytes(range(256)) * 8)
    for name, content in files.items():
        (tmp_path / f'{name}.pth').write_bytes(content)
    torch.save(dict(state_dict={'w': _RunsCommand(f'touch {marker}')}),
               tmp_path / 'crafted.pth')
    config = str(repo_root / SYNTHETIC_CONFIG)
    common = ['--input', str(shared_data / H36M_IMAGE), '--output-root',
              str(tmp_path / 'o')]
    for name in (*files, 'crafted'):
        path = str(tmp_path / f'{name}.pth')
        assert demo.main([config, path, *common, '--whole-image']) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and path in err[0], (name, err)
    assert 'posix.system' in err[0]
    with pytest.warns(UserWarning, match='RANDOM'):
        assert demo.main([config, *common, '--det-checkpoint',
                          str(tmp_path / 'truncated.pth')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'truncated.pth' in err[0], err
    assert not marker.exists()


def test_schema_validator_catches_errors(schema):
    from mmpose_epipolar.apis.results_io import validate_schema
    instance = dict(
        bbox=[0, 0, 10, 10], bbox_score=1.0, keypoints=[[1, 2]],
        keypoint_scores=[0.5], keypoints_depth=[0.0],
        keypoints_3d=[[0, 0, 0]], keypoints_3d_unit='camera',
        root_depth=None, root_depth_source=None)
    document = dict(
        schema_version='1.0', input='a.jpg', input_type='image',
        image_size=[10, 10], keypoint_names=['root'], skeleton=[],
        camera_intrinsics=None, detector=None,
        frames=[dict(frame_index=0, instances=[instance])])
    assert validate_schema(document, schema) == []
    bad = json.loads(json.dumps(document))
    bad['frames'][0]['instances'][0]['keypoints'] = [[1, None]]
    bad['frames'][0]['instances'][0]['keypoint_scores'] = [1.5]
    bad['frames'][0]['instances'][0]['keypoints_3d_unit'] = 'metres'
    del bad['image_size']
    errors = validate_schema(bad, schema)
    assert any('keypoints[0][1]' in e for e in errors)
    assert any('keypoint_scores[0]' in e for e in errors)
    assert any('metres' in e for e in errors)
    assert any('image_size' in e for e in errors)
