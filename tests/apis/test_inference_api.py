"""init_model / inference_topdown_3d on real images and real H36M cameras."""
import os
import pickle

import numpy as np
import pytest
import torch

from mmpose_epipolar.apis.inference import (
    H36M16_BONES,
    REFERENCE_SKELETON_LENGTH_MM,
    estimate_root_depth,
    inference_topdown_3d,
    init_model,
    parse_intrinsics,
    skeleton_length,
)
from mmpose_epipolar.datasets import H36M17_TO_16
from mmpose_epipolar.geometry import encode_relative_depth, lift_to_camera

SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
MPII_CONFIG = ('configs/body_3d_keypoint/pose_resnet/mpii/'
               'td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py')
BOXES = np.array([[330, 250, 640, 960], [100, 120, 420, 700]], np.float32)


@pytest.fixture(scope='module')
def h36m_frames(shared_data):
    """Real H36M poses (4, 16, 3) mm in camera frames, with their cameras."""
    root = shared_data / 'mmpose-testdata' / 'h36m'
    data = np.load(root / 'test_h36m_body3d.npz')
    with open(root / 'cameras.pkl', 'rb') as f:
        cameras = pickle.load(f)
    points = data['S'][:, H36M17_TO_16, :3] * 1000.0
    intrinsics = []
    for name in data['imgname']:
        subject = name.split('/')[0]
        camera_id = name.split('/')[1].split('.')[1]
        intrinsics.append(parse_intrinsics(cameras[(subject, camera_id)]))
    return points, np.stack(intrinsics)


# --------------------------------------------------------------------------
# init_model
# --------------------------------------------------------------------------
def test_init_model_offline_with_h36m16_meta(repo_root, tmp_path,
                                             monkeypatch):
    # From another folder: the MPII config names the metainfo file relative
    # to the repository root.
    monkeypatch.chdir(tmp_path)
    model = init_model(str(repo_root / MPII_CONFIG))
    assert model.cfg.model.backbone.init_cfg is None
    assert model.dataset_meta['dataset_name'] == 'h36m_16'
    assert model.dataset_meta['num_keypoints'] == 16
    assert model.dataset_meta['flip_indices'] == [
        0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 13, 14, 15, 10, 11, 12
    ]
    assert not model.training


def test_init_model_loads_checkpoint(repo_root, tmp_path):
    torch.manual_seed(1)
    source = init_model(str(repo_root / SYNTHETIC_CONFIG))
    path = tmp_path / 'pose.pth'
    torch.save(dict(state_dict=source.state_dict(), meta={}), path)
    torch.manual_seed(2)
    loaded = init_model(str(repo_root / SYNTHETIC_CONFIG), str(path))
    for (name, a), b in zip(source.state_dict().items(),
                            loaded.state_dict().values()):
        assert torch.equal(a, b), name


def test_init_model_bad_files(repo_root, tmp_path):
    config = str(repo_root / SYNTHETIC_CONFIG)
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(config, missing)
    with pytest.raises(FileNotFoundError, match='missing_config.py'):
        init_model(str(tmp_path / 'missing_config.py'))
    with pytest.raises(ValueError, match='never downloads'):
        init_model(config, 'https://example.com/pose.pth')


# --------------------------------------------------------------------------
# inference_topdown_3d
# --------------------------------------------------------------------------
def test_root_relative_output(sharp_model, h36m_image):
    samples = inference_topdown_3d(sharp_model, h36m_image, BOXES)
    assert len(samples) == 2
    for sample, box in zip(samples, BOXES):
        pred = sample.pred_instances
        assert pred.keypoints.shape == (1, 16, 2)
        assert pred.keypoint_scores.shape == (1, 16)
        assert pred.keypoints_depth.shape == (1, 16)
        assert pred.keypoints_3d.shape == (1, 16, 3)
        assert pred.metainfo['keypoints_3d_unit'] == 'image_px_root_relative'
        np.testing.assert_allclose(pred.bboxes[0], box)
        assert np.all((pred.keypoint_scores >= 0)
                      & (pred.keypoint_scores <= 1))
        # x, y relative to the root; depth as predicted.
        np.testing.assert_allclose(
            pred.keypoints_3d[0, :, :2],
            pred.keypoints[0] - pred.keypoints[0, :1], atol=1e-3)
        np.testing.assert_allclose(pred.keypoints_3d[0, :, 2],
                                   pred.keypoints_depth[0])
        # Keypoints lie in the padded crop around the box.
        center = (box[:2] + box[2:]) / 2
        half = 1.25 * np.max(box[2:] - box[:2]) / 2
        assert np.all(np.abs(pred.keypoints[0] - center) <= half + 1)
    # The sharpened model's pose depends on the crop: different boxes give
    # different skeletons (not a constant output).
    spread = samples[0].pred_instances.keypoints[0].std(axis=0)
    assert spread.min() > 5.0


def test_box_formats_and_scores(sharp_model, h36m_image):
    xyxy = inference_topdown_3d(sharp_model, h36m_image, BOXES[:1])
    xywh = BOXES[:1].copy()
    xywh[:, 2:] -= xywh[:, :2]
    scored = np.hstack([xywh, [[0.7]]])
    other = inference_topdown_3d(
        sharp_model, h36m_image, scored, bbox_format='xywh')
    np.testing.assert_allclose(other[0].pred_instances.keypoints,
                               xyxy[0].pred_instances.keypoints, atol=1e-4)
    assert other[0].pred_instances.bbox_scores[0] == pytest.approx(0.7)
    # No boxes: the whole image is one person; empty boxes: nobody.
    whole = inference_topdown_3d(sharp_model, h36m_image)
    np.testing.assert_allclose(whole[0].pred_instances.bboxes[0],
                               [0, 0, 1000, 1002])
    assert inference_topdown_3d(sharp_model, h36m_image,
                                np.zeros((0, 4))) == []


def test_camera_with_given_root_depth(sharp_model, h36m_image, shared_data):
    with open(shared_data / 'mmpose-testdata/h36m/cameras.pkl', 'rb') as f:
        camera = pickle.load(f)[('S1', '54138969')]
    intrinsics = parse_intrinsics(camera)
    samples = inference_topdown_3d(
        sharp_model, h36m_image, BOXES, camera=camera,
        root_depth=[5204.0, 6000.0])
    for sample, z_root in zip(samples, [5204.0, 6000.0]):
        pred = sample.pred_instances
        assert pred.metainfo['keypoints_3d_unit'] == 'camera'
        assert pred.metainfo['root_depth_source'] == 'given'
        expected = lift_to_camera(pred.keypoints, pred.keypoints_depth,
                                  intrinsics, np.array([z_root]))
        np.testing.assert_allclose(pred.keypoints_3d, expected, rtol=1e-5)
        # Reprojecting the 3D gives back the 2D keypoints.
        uv = pred.keypoints_3d[0, :, :2] / pred.keypoints_3d[0, :, 2:]
        uv = uv * np.diag(intrinsics)[:2] + intrinsics[:2, 2]
        np.testing.assert_allclose(uv, pred.keypoints[0], atol=1e-2)


def test_camera_with_estimated_root_depth(sharp_model, h36m_image):
    camera = dict(f=[1145.0, 1144.0], c=[512.5, 515.5])
    samples = inference_topdown_3d(sharp_model, h36m_image, BOXES,
                                   camera=camera)
    for sample in samples:
        pred = sample.pred_instances
        assert pred.metainfo['keypoints_3d_unit'] == 'camera'
        assert pred.metainfo['root_depth_source'] == 'estimated'
        # By construction the lifted skeleton has the reference length.
        assert skeleton_length(pred.keypoints_3d[0]) == pytest.approx(
            REFERENCE_SKELETON_LENGTH_MM, rel=1e-4)
        assert pred.keypoints_3d[0, 0, 2] == pytest.approx(
            pred.root_depth[0] *
            (1 + pred.keypoints_depth[0, 0] / 1144.5), rel=1e-5)


def test_bad_input(sharp_model, h36m_image, tmp_path):
    with pytest.raises(ValueError, match=r'\(N, 4\) or \(N, 5\)'):
        inference_topdown_3d(sharp_model, h36m_image, np.ones((2, 3)))
    with pytest.raises(ValueError, match='positive size'):
        inference_topdown_3d(sharp_model, h36m_image, [[10, 10, 5, 50]])
    with pytest.raises(ValueError, match='bbox_format'):
        inference_topdown_3d(sharp_model, h36m_image, BOXES, 'cxcywh')
    with pytest.raises(ValueError, match='needs camera'):
        inference_topdown_3d(sharp_model, h36m_image, BOXES, root_depth=5000)
    with pytest.raises(ValueError, match='one per box'):
        inference_topdown_3d(sharp_model, h36m_image, BOXES,
                             camera=np.eye(3), root_depth=[1, 2, 3])
    with pytest.raises(ValueError, match='positive'):
        inference_topdown_3d(sharp_model, h36m_image, BOXES,
                             camera=np.eye(3), root_depth=-1)
    with pytest.raises(ValueError, match=r'\(3, 3\)'):
        inference_topdown_3d(sharp_model, h36m_image, BOXES,
                             camera=np.eye(4))
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_topdown_3d(sharp_model, str(tmp_path / 'missing.jpg'))
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg at all')
    with pytest.raises(ValueError, match='broken.jpg'):
        inference_topdown_3d(sharp_model, str(broken))


# --------------------------------------------------------------------------
# Root depth from the skeleton
# --------------------------------------------------------------------------
def _encode(points, intrinsics):
    """Pixels and scale-free depth of camera-frame points (N, J, 3)."""
    uv = points[..., :2] / points[..., 2:]
    fx, fy = intrinsics[:, 0, 0], intrinsics[:, 1, 1]
    f = np.stack([fx, fy], -1)[:, None]
    c = intrinsics[:, :2, 2][:, None]
    keypoints = uv * f + c
    depth = encode_relative_depth(points[..., 2], f[:, 0].mean(-1))
    return keypoints, depth


def test_estimate_root_depth_on_real_h36m(h36m_frames):
    points, intrinsics = h36m_frames
    keypoints, depth = _encode(points, intrinsics)
    z_root = points[:, 0, 2]
    # Exact given each subject's own skeleton length (the lift is linear in
    # the root depth).
    own = skeleton_length(points)
    for i in range(len(points)):
        estimate = estimate_root_depth(keypoints[i:i + 1], depth[i:i + 1],
                                       intrinsics[i], own[i])
        np.testing.assert_allclose(estimate, z_root[i:i + 1], rtol=1e-9)
    # With the default reference: within the subjects' few-% spread.
    estimate = np.concatenate([
        estimate_root_depth(keypoints[i:i + 1], depth[i:i + 1],
                            intrinsics[i]) for i in range(len(points))
    ])
    relative = np.abs(estimate - z_root) / z_root
    assert relative.max() < 0.05, relative
    # The reference is the mean of these frames' skeletons.
    assert own.mean() == pytest.approx(REFERENCE_SKELETON_LENGTH_MM,
                                       abs=1.0)
    assert len(H36M16_BONES) == 15


def test_estimate_root_depth_degenerate_and_shapes():
    keypoints = np.full((2, 16, 2), 500.0)
    depth = np.zeros((2, 16))
    keypoints[1, :, 0] += np.arange(16)
    estimate = estimate_root_depth(keypoints, depth, np.diag([1000, 1000,
                                                              1.0]))
    assert np.isnan(estimate[0]) and np.isfinite(estimate[1])
    with pytest.raises(ValueError, match=r'\(N, J, 2\)'):
        estimate_root_depth(keypoints[0], depth[0], np.eye(3))


def test_parse_intrinsics_forms(shared_data):
    with open(shared_data / 'mmpose-testdata/h36m/cameras.pkl', 'rb') as f:
        camera = pickle.load(f)[('S9', '60457274')]
    matrix = parse_intrinsics(camera)
    np.testing.assert_allclose(matrix[[0, 1], [0, 1]], camera['f'].ravel())
    np.testing.assert_allclose(matrix[:2, 2], camera['c'].ravel())
    np.testing.assert_array_equal(
        parse_intrinsics(dict(intrinsics=matrix.tolist())), matrix)
    with pytest.raises(ValueError, match='keys'):
        parse_intrinsics(dict(focal=1))
    with pytest.raises(ValueError, match='positive focal'):
        parse_intrinsics(np.diag([0.0, 1.0, 1.0]))
    assert os.path.isfile(shared_data / 'mmpose-testdata/h36m/cameras.pkl')
