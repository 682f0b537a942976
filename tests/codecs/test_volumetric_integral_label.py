import numpy as np
import pytest

from mmpose_epipolar.codecs import VolumetricIntegralLabel
from mmpose_epipolar.geometry import encode_relative_depth, lift_to_camera


def _h36m_sample(shared_data):
    data = np.load(shared_data / 'mmpose-testdata/h36m/test_h36m_body3d.npz')
    import pickle
    with open(shared_data / 'mmpose-testdata/h36m/cameras.pkl', 'rb') as f:
        cameras = pickle.load(f)
    name = str(data['imgname'][0])
    subject, folder = name.split('/')[:2]
    cam_id = folder.split('.')[-1]
    cam = cameras[(subject, cam_id)]
    intrinsics = np.array([[cam['f'][0, 0], 0, cam['c'][0, 0]],
                           [0, cam['f'][1, 0], cam['c'][1, 0]], [0, 0, 1]])
    return data['S'][0, :, :3] * 1000.0, intrinsics


def test_round_trip_in_crop_pixels():
    codec = VolumetricIntegralLabel(input_size=(256, 256))
    rng = np.random.default_rng(0)
    keypoints = np.concatenate(
        [rng.uniform(0, 255, (2, 16, 2)),
         rng.uniform(-150, 150, (2, 16, 1))], axis=-1)
    bbox_scale = np.array([[512.0, 512.0], [128.0, 128.0]])
    encoded = codec.encode(keypoints, np.ones((2, 16)), bbox_scale=bbox_scale)
    labels, weights = encoded['keypoint_labels'], encoded['keypoint_weights']
    assert labels.shape == weights.shape == (2, 16, 3)
    assert np.all(weights == 1)
    decoded, scores = codec.decode(labels)
    np.testing.assert_allclose(decoded[..., :2], keypoints[..., :2],
                               atol=1e-3)
    # Depth comes back in crop pixels: image depth * input_w / bbox_w.
    np.testing.assert_allclose(decoded[:, :, 2],
                               keypoints[:, :, 2] * 256 / bbox_scale[:, :1],
                               rtol=1e-5, atol=1e-3)
    assert scores.shape == (2, 16)


def test_two_d_keypoints_mask_depth_and_nan_is_masked():
    codec = VolumetricIntegralLabel(input_size=(192, 256))
    keypoints = np.array([[[96.0, 128.0], [0.0, 0.0], [np.nan, 5.0]]])
    encoded = codec.encode(keypoints, np.array([[1.0, 0.0, 1.0]]))
    labels, weights = encoded['keypoint_labels'], encoded['keypoint_weights']
    np.testing.assert_allclose(labels[0, 0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(weights[..., 2], 0)
    np.testing.assert_array_equal(weights[0, 1], 0)
    np.testing.assert_array_equal(weights[0, 2], [0, 1, 0])
    assert np.isfinite(labels).all()


def test_depth_needs_bbox_scale_and_shape_is_checked():
    codec = VolumetricIntegralLabel(input_size=(256, 256))
    with pytest.raises(ValueError, match='bbox_scale'):
        codec.encode(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match=r'\(N, K, 2\)'):
        codec.encode(np.zeros((4, 3)))


def test_depth_is_scale_free_and_lifts_back_on_a_real_pose(shared_data):
    points_mm, intrinsics = _h36m_sample(shared_data)
    focal = np.diag(intrinsics)[:2]
    depth = encode_relative_depth(points_mm[:, 2], focal.mean())
    assert depth[0] == 0.0
    # A similarity-ambiguous (triangulated) pose gives the same label.
    np.testing.assert_allclose(
        encode_relative_depth(points_mm[:, 2] * 0.0173, focal.mean()), depth,
        rtol=1e-10)
    # A real human's depth range is a few dozen image pixels at 5 m.
    assert 5 < np.abs(depth).max() < 200

    pixels = points_mm[:, :2] / points_mm[:, 2:] * focal + intrinsics[:2, 2]
    lifted = lift_to_camera(pixels, depth, intrinsics, points_mm[0, 2])
    np.testing.assert_allclose(lifted, points_mm, atol=1e-6)
