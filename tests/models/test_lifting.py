"""Camera-space lifting undoes the lens distortion of real H36M cameras."""
import pickle

import numpy as np
import torch

from mmpose_epipolar.geometry import (
    encode_relative_depth,
    lift_to_camera,
    project_points,
    undistorted_pixels,
)


def test_lift_with_undistortion_recovers_real_poses(shared_data):
    root = shared_data / 'mmpose-testdata/h36m'
    data = np.load(root / 'test_h36m_body3d.npz')
    cameras = pickle.load(open(root / 'cameras.pkl', 'rb'))
    for name, s in zip(data['imgname'], data['S']):
        subject, folder = str(name).split('/')[:2]
        cam = cameras[(subject, folder.split('.')[-1])]
        k = np.array([[cam['f'][0, 0], 0, cam['c'][0, 0]],
                      [0, cam['f'][1, 0], cam['c'][1, 0]], [0, 0, 1]])
        d = np.array([cam['k'][0, 0], cam['k'][1, 0], cam['p'][0, 0],
                      cam['p'][1, 0], cam['k'][2, 0]])
        points = s[:, :3] * 1000.0
        pixels = project_points(torch.from_numpy(points), torch.from_numpy(k),
                                torch.from_numpy(d)).numpy()[None]
        depth = encode_relative_depth(points[None, :, 2],
                                      np.diag(k)[None, :2].mean(-1))
        lifted = lift_to_camera(pixels, depth, k, points[None, 0, 2], d)
        np.testing.assert_allclose(lifted[0], points, atol=0.01)
        naive = lift_to_camera(pixels, depth, k, points[None, 0, 2])
        assert np.abs(naive[0] - points).max() > 0.1
    # No distortion: pixels pass through unchanged.
    assert undistorted_pixels(pixels, k, None) is pixels
