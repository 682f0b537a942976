# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Tests of the synthetic multi-view Human3.6M generator."""
import hashlib
import importlib.util
import json
import os
import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmpose_epipolar.datasets.synthetic import (
    ANGLE_LIMITS,
    ANGLE_NAMES,
    H36M_ACTIONS,
    H36M_CAMERA_IDS,
    H36M_SUBJECTS,
    Capsule,
    Ellipsoid,
    build_body,
    forward_kinematics,
    generate_synthetic_h36m,
    h36m_camera,
    other_generator_version,
    pixel_rays,
    render_primitives,
    sample_appearance,
    sample_body_shape,
    sample_motion,
)
from mmpose_epipolar.datasets.synthetic.body import restyle_for_sequence
from mmpose_epipolar.datasets.synthetic.cameras import (
    intrinsics_matrix,
    project_camera_points,
    project_world_points,
    world_to_camera,
)
from mmpose_epipolar.datasets.synthetic.skeleton import (
    H36M17_BONES,
    bone_lengths,
)
from mmpose_epipolar.geometry import project_points, undistort_points

REPO = Path(__file__).parents[2]
SHARED_H36M = REPO / '..' / 'shared' / 'data' / 'mmpose-testdata' / 'h36m'
IMGNAME = re.compile(
    r'^(S\d+)/(\1_([A-Za-z]+)_(\d)\.(\d{8}))/\2_(\d{6})\.jpg$')

SMALL = dict(
    seed=3,
    train_subjects=('S1', ),
    test_subjects=('S9', ),
    actions=('Directions', 'Walking', 'Sitting'),
    frames_per_sequence=6,
    frame_step=2,
    image_size=128)


def h36m_project(points_cam, cam):
    """MMPose's SimpleCamera projection with H36M distortion, written out
    independently of the package (docs/conventions.md)."""
    x = points_cam[..., 0] / points_cam[..., 2]
    y = points_cam[..., 1] / points_cam[..., 2]
    k, p = cam['k'].ravel(), cam['p'].ravel()
    r2 = x**2 + y**2
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = 2 * (p[0] * y + p[1] * x)
    xd = x * (radial + tan) + p[1] * r2
    yd = y * (radial + tan) + p[0] * r2
    f, c = cam['f'].ravel(), cam['c'].ravel()
    return np.stack([f[0] * xd + c[0], f[1] * yd + c[1]], axis=-1)


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth') / 'h36m'
    result = generate_synthetic_h36m(root, **SMALL)
    train = dict(np.load(result['ann_files']['train']))
    test = dict(np.load(result['ann_files']['test']))
    with open(result['camera_file'], 'rb') as f:
        cameras = pickle.load(f)
    return result, train, test, cameras


def _file_digests(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            path = os.path.join(dirpath, n)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = hashlib.sha1(
                    f.read()).hexdigest()
    return out


def test_layout_matches_mmpose_h36m(small_set):
    result, train, test, cameras = small_set
    root = Path(result['root'])
    # frame_step 2 -> MMPose's folder name fps25.
    assert result['ann_file_rel']['train'] == \
        'annotation_body3d/fps25/h36m_train.npz'
    n_seq, n_frames = 3, 6
    for ann, subj in ((train, 'S1'), (test, 'S9')):
        n = n_seq * 4 * n_frames
        assert set(ann) == {'imgname', 'center', 'scale', 'part', 'S'}
        assert ann['imgname'].dtype.kind == 'U' and ann['imgname'].shape == (
            n, )
        assert ann['center'].shape == (n, 2)
        assert ann['scale'].shape == (n, )
        assert ann['part'].shape == (n, 17, 3)
        assert ann['S'].shape == (n, 17, 4)
        for key in ('center', 'scale', 'part', 'S'):
            assert ann[key].dtype == np.float64
        np.testing.assert_array_equal(ann['part'][..., 2], 1.0)
        np.testing.assert_array_equal(ann['S'][..., 3], 1.0)
        frames = set()
        for name in ann['imgname']:
            m = IMGNAME.match(name)
            assert m, name
            assert m.group(1) == subj and m.group(3) in H36M_ACTIONS
            assert m.group(5) in H36M_CAMERA_IDS
            frames.add(int(m.group(6)))
            assert (root / 'images' / name).is_file()
        # 1-based timeline numbering, every frame_step-th frame.
        assert frames == {1, 3, 5, 7, 9, 11}
    assert set(cameras) == {(s, c) for s in H36M_SUBJECTS
                            for c in H36M_CAMERA_IDS}
    cam = cameras[('S1', '54138969')]
    assert cam['R'].shape == (3, 3) and cam['T'].shape == (3, 1)
    assert cam['f'].shape == (2, 1) and cam['c'].shape == (2, 1)
    assert cam['k'].shape == (3, 1) and cam['p'].shape == (2, 1)
    assert cam['w'] == cam['h'] == 128
    assert cam['id'] == '54138969' and cam['name'] == 'camera1'
    meta = json.loads((root / 'meta.json').read_text())
    assert meta['params']['seed'] == 3
    assert meta['counts'] == dict(
        num_sequences=6, train_images=72, test_images=72)


def test_same_dtypes_and_fields_as_real_preprocessed_h36m(small_set):
    if not SHARED_H36M.is_dir():
        pytest.skip(f'real H36M sample data not found at {SHARED_H36M}')
    _, train, _, cameras = small_set
    real = np.load(SHARED_H36M / 'test_h36m_body3d.npz')
    assert set(real.files) == set(train)
    for key in real.files:
        assert real[key].dtype.kind == train[key].dtype.kind, key
        assert real[key].shape[1:] == train[key].shape[1:], key
    with open(SHARED_H36M / 'cameras.pkl', 'rb') as f:
        real_cams = pickle.load(f)
    assert set(real_cams) == set(cameras)
    for key, rec in real_cams.items():
        ours = cameras[key]
        assert set(rec) == set(ours)
        # Extrinsics and distortion are the real ones; f and c are scaled.
        np.testing.assert_array_equal(ours['R'], rec['R'])
        np.testing.assert_array_equal(ours['T'], rec['T'])
        np.testing.assert_array_equal(ours['k'], rec['k'])
        np.testing.assert_array_equal(ours['p'], rec['p'])
        np.testing.assert_allclose(ours['f'], rec['f'] * 128 / 1000)
        np.testing.assert_allclose(ours['c'], (rec['c'] + .5) * .128 - .5)


def test_part_is_exact_distorted_projection_of_S(small_set):
    _, train, test, cameras = small_set
    for ann in (train, test):
        for i, name in enumerate(ann['imgname']):
            m = IMGNAME.match(name)
            cam = cameras[(m.group(1), m.group(5))]
            uv = h36m_project(ann['S'][i, :, :3], cam)
            assert np.abs(uv - ann['part'][i, :, :2]).max() < 0.01
    # The distortion is not negligible: a pinhole model is far off.
    cam = cameras[('S1', '54138969')]
    pin = ann['S'][0, :, :2] / ann['S'][0, :, 2:3] * cam['f'].ravel() + \
        cam['c'].ravel()
    assert np.abs(pin - ann['part'][0, :, :2]).max() > 0.1


def test_views_of_one_instant_share_one_world_pose(small_set):
    _, train, _, cameras = small_set
    groups = {}
    for i, name in enumerate(train['imgname']):
        m = IMGNAME.match(name)
        cam = cameras[(m.group(1), m.group(5))]
        world = train['S'][i, :, :3] @ cam['R'].T + cam['T'].ravel()
        groups.setdefault((m.group(3), m.group(6)), []).append(world)
    assert len(groups) == 3 * 6
    for views in groups.values():
        assert len(views) == 4
        spread = np.abs(np.stack(views) - views[0]).max()
        assert spread < 1e-9
        # Human3.6M's world: z up, floor at 0, feet on it, head ~1.5-2 m.
        w = views[0]
        assert 0.0 < min(w[3, 2], w[6, 2]) < 0.12
        assert w[:, 2].min() > -1e-9


def test_center_and_scale_follow_mmpose_preprocess(small_set):
    _, train, _, _ = small_set
    part = train['part'][..., :2]
    lo, hi = part.min(axis=1), part.max(axis=1)
    np.testing.assert_allclose(train['center'], (lo + hi) / 2)
    np.testing.assert_allclose(train['scale'],
                               1.2 * (hi - lo).max(axis=1) / 200)


def test_bone_lengths_constant_within_subject(small_set):
    _, train, test, _ = small_set
    lengths = {}
    for ann in (train, test):
        bl = bone_lengths(ann['S'][..., :3])
        subj = np.array([n.split('/')[0] for n in ann['imgname']])
        for s in np.unique(subj):
            lengths[s] = bl[subj == s]
            assert np.ptp(lengths[s], axis=0).max() < 1e-9
    # Human proportions (metres) and symmetric limbs.
    bones = dict(zip(H36M17_BONES, lengths['S1'][0]))
    assert 0.33 < bones[(1, 2)] < 0.55 and 0.33 < bones[(2, 3)] < 0.55
    assert bones[(1, 2)] == pytest.approx(bones[(4, 5)])
    assert 0.2 < bones[(11, 12)] < 0.35
    # Different subjects have different bodies.
    assert np.abs(lengths['S1'][0] - lengths['S9'][0]).max() > 1e-3


def test_generation_is_deterministic_by_seed(tmp_path):
    cfg = dict(
        train_subjects=('S5', ),
        test_subjects=(),
        actions=('Greeting', 'WalkTogether'),
        frames_per_sequence=2,
        frame_step=1,
        image_size=64)
    generate_synthetic_h36m(tmp_path / 'a', seed=7, **cfg)
    # Parallel workers write the very same files.
    generate_synthetic_h36m(tmp_path / 'b', seed=7, num_workers=2, **cfg)
    generate_synthetic_h36m(tmp_path / 'c', seed=8, **cfg)
    a = _file_digests(tmp_path / 'a')
    b = _file_digests(tmp_path / 'b')
    c = _file_digests(tmp_path / 'c')
    assert len(a) == 2 * 2 * 4 + 4  # images, cameras, 2 npz, meta
    assert a == b
    differing = {k for k in a if a[k] != c.get(k)}
    assert 'annotation_body3d/fps50/h36m_train.npz' in differing
    assert sum(k.endswith('.jpg') for k in differing) == 16
    empty = np.load(tmp_path / 'a' / 'annotation_body3d' / 'fps50' /
                    'h36m_test.npz')
    assert empty['imgname'].dtype.kind == 'U' and empty['S'].shape == (0, 17,
                                                                        4)


def test_existing_folder_is_reused_or_refused(tmp_path):
    cfg = dict(
        train_subjects=('S6', ),
        test_subjects=(),
        actions=('Eating', ),
        frames_per_sequence=1,
        image_size=64)
    root = tmp_path / 'gen'
    first = generate_synthetic_h36m(root, **cfg)
    assert not first['reused']
    meta = root / 'meta.json'
    stamp = meta.stat().st_mtime_ns
    again = generate_synthetic_h36m(root, **cfg)
    assert again['reused'] and meta.stat().st_mtime_ns == stamp
    assert again['ann_files'] == first['ann_files']
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_synthetic_h36m(root, seed=1, **cfg)
    redone = generate_synthetic_h36m(root, seed=1, overwrite=True, **cfg)
    assert not redone['reused']
    assert json.loads(meta.read_text())['params']['seed'] == 1
    # A matching meta.json whose files have gone is not trusted.
    os.remove(redone['ann_files']['train'])
    with pytest.raises(FileExistsError, match='missing'):
        generate_synthetic_h36m(root, seed=1, **cfg)
    # A foreign, non-empty folder is never overwritten silently.
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='no \\(valid\\) meta.json'):
        generate_synthetic_h36m(other, **cfg)
    # Only our own output written by another version counts as stale.
    assert other_generator_version(root) is None
    assert other_generator_version(other) is None
    assert other_generator_version(tmp_path / 'missing') is None
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps(dict(record, version='0.9')))
    assert other_generator_version(root) == '0.9'
    meta.write_text(json.dumps(dict(record, version='0.9', generator='x')))
    assert other_generator_version(root) is None


@pytest.mark.parametrize(
    'kwargs, match',
    [(dict(train_subjects=('S12', )), "'S12'"),
     (dict(actions=('Dancing', )), "'Dancing'"),
     (dict(frames_per_sequence=0), 'frames_per_sequence'),
     (dict(train_subjects=('S9', ), test_subjects=('S9', )), 'both splits'),
     (dict(subactions=(0, )), 'subactions')])
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_synthetic_h36m(tmp_path / 'x', **kwargs)
    assert not (tmp_path / 'x').exists()


def test_joint_angle_limits_and_knee_direction():
    rng = np.random.default_rng(0)
    lo = np.deg2rad([ANGLE_LIMITS[n][0] for n in ANGLE_NAMES])
    hi = np.deg2rad([ANGLE_LIMITS[n][1] for n in ANGLE_NAMES])
    knee = ANGLE_NAMES.index('knee_r')
    seen_bent = 0
    for action in H36M_ACTIONS:
        shape = sample_body_shape(rng)
        motion = sample_motion(action, 30, 2, rng)
        assert np.all(motion.angles >= lo - 1e-12)
        assert np.all(motion.angles <= hi + 1e-12)
        # Smooth: per frame, an angle moves at most 1.5 x 60 degrees per
        # key interval (8 frames) x frame_step 2 (walks: a slower gait).
        step = np.abs(np.diff(motion.angles, axis=0)).max()
        assert step <= np.deg2rad(1.5 * 60 / 8 * 2) + 1e-9
        for t in range(len(motion.frame_ids)):
            j = forward_kinematics(shape, motion.angles_at(t),
                                   motion.root_xy[t],
                                   motion.heading[t]).joints
            left = j[4] - j[1]
            for hip, kn, ank in ((1, 2, 3), (4, 5, 6)):
                thigh, shin = j[kn] - j[hip], j[ank] - j[kn]
                cosang = thigh @ shin / np.linalg.norm(thigh) / \
                    np.linalg.norm(shin)
                # Flexion <= 150 degrees ...
                assert cosang > np.cos(np.deg2rad(150.5))
                # ... and only backwards: the knee axis points left.
                if cosang < np.cos(np.deg2rad(10)):
                    assert np.cross(thigh, shin) @ left > 0
                    seen_bent += 1
            for sho, elb, wri in ((11, 12, 13), (14, 15, 16)):
                upper, fore = j[elb] - j[sho], j[wri] - j[elb]
                cosang = upper @ fore / np.linalg.norm(upper) / \
                    np.linalg.norm(fore)
                assert cosang > np.cos(np.deg2rad(145.5))
        assert motion.angles[:, knee].min() >= 0
    assert seen_bent > 50


def test_walking_moves_the_body_and_standing_keeps_feet_down():
    rng = np.random.default_rng(1)
    walk = sample_motion('Walking', 20, 2, rng, radius=0.8)
    assert np.linalg.norm(walk.root_xy[-1] - walk.root_xy[0]) > 0.4
    shape = sample_body_shape(rng)
    for t in range(20):
        j = forward_kinematics(shape, walk.angles_at(t), walk.root_xy[t],
                               walk.heading[t]).joints
        assert min(j[3, 2], j[6, 2]) == pytest.approx(shape.ankle_height)


def test_every_clip_turns_the_body_around():
    """Each camera sees the body's front and back within one clip, so a
    sequence's background cannot tell which way the body faces."""
    rng = np.random.default_rng(3)
    for action in ('Directions', 'Sitting', 'Phoning', 'Walking'):
        for _ in range(5):
            motion = sample_motion(action, 48, 2, rng, radius=0.8)
            turned = np.ptp(np.unwrap(motion.heading))
            low = 0.5 * np.pi if action == 'Walking' else np.pi
            assert turned > low * 0.9, (action, np.rad2deg(turned))
            # At most ~2.5 turns' worth over the clip: still a body
            # turning, not spinning from frame to frame.
            step = np.abs(np.diff(np.unwrap(motion.heading))).max()
            assert step < np.deg2rad(45), (action, np.rad2deg(step))


def test_images_show_a_person_at_the_labels(small_set):
    result, train, _, _ = small_set
    root = Path(result['root']) / 'images'
    inside = []
    for i in range(0, len(train['imgname']), 5):
        img = cv2.imread(str(root / train['imgname'][i]))
        assert img.shape == (128, 128, 3)
        assert img.std() > 10
        uv = train['part'][i, :, :2]
        inside.append(((uv >= 0) & (uv <= 127)).all())
        # The person is a plausible share of the frame, as in H36M.
        height = np.ptp(uv[:, 1]) / 128
        assert 0.12 < height < 0.8
    assert np.mean(inside) >= 0.9


def test_every_joint_projects_onto_the_rendered_body():
    """Rays through the labelled 2D joints hit the body: image and labels
    agree, distortion included."""
    rng = np.random.default_rng(5)
    shape, app = sample_body_shape(rng), sample_appearance(rng)
    motion = sample_motion('Greeting', 3, 10, rng, centre=(0.1, 0.4))
    for subject in ('S1', 'S11'):
        for cid in H36M_CAMERA_IDS:
            cam = h36m_camera(subject, cid, 256)
            rays = pixel_rays(cam)
            for t in range(3):
                posed = forward_kinematics(shape, motion.angles_at(t),
                                           motion.root_xy[t],
                                           motion.heading[t])
                prims = build_body(posed, shape, app)
                _, depth, index = render_primitives(
                    cam, rays, prims, np.zeros((256, 256, 3)),
                    np.array([0.3, 0.2, 0.9]))
                uv = project_world_points(posed.joints, cam)
                px = np.round(uv).astype(int)
                assert ((px >= 0) & (px < 256)).all()
                assert (index[px[:, 1], px[:, 0]] >= 0).all()
                # Visible surfaces are in front of the joints' depth
                # (joints are inside the volumes).
                z = world_to_camera(posed.joints, cam)[:, 2]
                assert (depth[px[:, 1], px[:, 0]] < z + 0.01).all()
                assert 0.01 < (index >= 0).mean() < 0.3


def _pinhole(size=64, f=80.0):
    return dict(
        R=np.eye(3), T=np.zeros((3, 1)), f=np.array([[f], [f]]),
        c=np.array([[(size - 1) / 2], [(size - 1) / 2]]),
        k=np.zeros((3, 1)), p=np.zeros((2, 1)), w=size, h=size)


def test_renderer_nearer_primitive_wins_whatever_the_order():
    cam = _pinhole()
    rays = pixel_rays(cam)
    red, blue = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    near = Ellipsoid(np.array([0.1, 0, 3.0]), np.eye(3), np.full(3, 0.5),
                     red)
    far = Capsule(np.array([-0.8, 0, 4.0]), np.array([0.8, 0, 4.0]), 0.5,
                  blue)
    bg = np.full((64, 64, 3), 0.5)
    light = np.array([0.0, 0.0, -1.0])  # towards the camera
    outs = [
        render_primitives(cam, rays, prims, bg, light, ambient=0.3)
        for prims in ([near, far], [far, near])
    ]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    img, depth, index = outs[0]
    centre = 31 + int(round(0.1 / 3.0 * 80))  # the sphere's centre pixel
    # Where both cover a pixel, the nearer sphere is drawn: it is red.
    assert depth[31, centre] == pytest.approx(3.0 - 0.5, abs=1e-3)
    assert img[31, centre, 0] > 0.8 and img[31, centre, 2] == 0
    assert index[31, centre] == 0
    # Left of the sphere only the capsule is seen, at its analytic depth:
    # (t y)^2 + (t - 4)^2 = 0.5^2 on its cylindrical side.
    assert index[31, 16] == 1 and img[31, 16, 2] > 0 and img[31, 16, 0] == 0
    q = 1 + ((31 - 31.5) / 80)**2
    assert depth[31, 16] == pytest.approx(
        (8 - np.sqrt(64 - 4 * q * 15.75)) / (2 * q), abs=1e-9)
    # Its end cap: the side rows of the capsule end in a round outline.
    assert index[31, 5] == 1 and index[31, 4] == -1
    assert index[0, 0] == -1 and np.all(img[0, 0] == 0.5)
    # A wall in front hides both.
    wall = np.full((64, 64), 2.0)
    _, _, hidden = render_primitives(
        cam, rays, [near, far], bg, light, background_depth=wall)
    assert (hidden == -1).all()


def test_pixel_rays_invert_the_distortion():
    cam = h36m_camera('S7', '60457274', 200)
    rays = pixel_rays(cam)
    v, u = np.mgrid[0:200, 0:200]
    uv = project_world_points(rays.reshape(-1, 3) * 4.0 @ cam['R'].T +
                              cam['T'].ravel(), cam)
    err = np.abs(uv - np.stack([u, v], axis=-1).reshape(-1, 2)).max()
    assert err < 1e-6


def test_cameras_use_the_package_lens_model():
    """Rays and projections come from mmpose_epipolar.geometry's lens
    model, bit for bit: the generator holds no copy of it."""
    cam = h36m_camera('S9', '58860488', 96)
    intrinsics, distortion = (torch.from_numpy(a)
                              for a in intrinsics_matrix(cam))
    v, u = np.mgrid[0:96, 0:96].astype(np.float64)
    pixels = torch.from_numpy(np.stack([u, v], axis=-1))
    rays = pixel_rays(cam)
    np.testing.assert_array_equal(
        rays[..., :2],
        undistort_points(pixels, intrinsics, distortion).numpy())
    points = rays * np.linspace(2.0, 6.0, 96)[:, None, None]
    np.testing.assert_array_equal(
        project_camera_points(points, cam),
        project_points(torch.from_numpy(points), intrinsics,
                       distortion).numpy())
    # Far from the centre the image still inverts the lens exactly.
    np.testing.assert_allclose(
        project_camera_points(points, cam), pixels.numpy(), atol=1e-9)


def test_cli_writes_and_reuses(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'gen_cli',
        REPO / 'tools' / 'dataset_converters' / 'generate_synthetic_h36m.py')
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = [
        str(tmp_path / 'd'), '--train-subjects', 'S1', '--test-subjects',
        'S11', '--actions', 'Phoning', '--frames-per-sequence', '2',
        '--image-size', '64'
    ]
    result = cli.main(argv)
    assert result['counts']['train_images'] == 8
    assert 'images/s' in capsys.readouterr().out
    assert cli.main(argv)['reused']
    assert 'Reused' in capsys.readouterr().out


def _camera_facing(target, direction, distance=3.0, size=96, f=120.0):
    """A pinhole camera ``distance`` m from ``target`` along ``direction``,
    looking back at it, image y pointing down (world z is up)."""
    z = -direction / np.linalg.norm(direction)
    y = np.array([0.0, 0.0, -1.0])
    y = y - (y @ z) * z
    y /= np.linalg.norm(y)
    cam = _pinhole(size, f)
    cam['R'] = np.stack([np.cross(y, z), y, z], axis=1)
    cam['T'] = (target - distance * z).reshape(3, 1)
    return cam


def test_front_of_the_torso_differs_from_its_back():
    """The shirt's front panel is seen from the front and hidden from
    behind: the cue that lets a network tell left from right."""
    rng = np.random.default_rng(11)
    shape, app = sample_body_shape(rng), sample_appearance(rng)
    motion = sample_motion('Directions', 1, 1, rng)
    posed = forward_kinematics(shape, motion.angles_at(0), motion.root_xy[0],
                               motion.heading[0])
    prims = build_body(posed, shape, app)
    panel = [i for i, p in enumerate(prims) if p.color is app.front]
    assert len(panel) == 2
    chest = 0.5 * (posed.joints[7] + posed.joints[8])
    forward = posed.frames['chest'][:, 0].copy()
    forward[2] = 0.0
    seen = []
    for direction in (forward, -forward):
        cam = _camera_facing(chest, direction)
        _, _, index = render_primitives(cam, pixel_rays(cam), prims,
                                        np.zeros((96, 96, 3)),
                                        np.array([0.3, 0.2, 0.9]))
        seen.append(np.isin(index, panel).mean())
    assert seen[0] > 0.01 and seen[1] == 0.0
    # Each sequence gets its own outfit; the subject's skin stays.
    other = restyle_for_sequence(app, np.random.default_rng(1))
    assert other.skin is app.skin and not np.allclose(other.shirt, app.shirt)
