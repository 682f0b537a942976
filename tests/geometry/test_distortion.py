import cv2
import numpy as np
import pytest
import torch

from mmpose_epipolar.geometry import (
    distort_normalized,
    project_points,
    undistort_normalized,
    undistort_points,
)


def test_project_matches_h36m_ground_truth_2d(h36m):
    """The OpenCV-order model reproduces the dataset's own 2D annotation to
    0.2 px. (The annotation itself was made with the original H36M code,
    whose tangential term lacks OpenCV's factor 2: that variant matches to
    1e-4 px, so the 0.2 px are the models' difference, not a bug.)"""
    for (subject, world), (_, name, uv) in zip(h36m.poses, h36m.annotations):
        cam = name.split('.')[1].split('_')[0]
        k, d, r, t = h36m.camera(subject, cam)
        xc = (world - t) @ r
        px = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                            torch.from_numpy(d)).numpy()
        assert np.abs(px - uv).max() < 0.2
        x = xc[:, :2] / xc[:, 2:]
        r2 = (x**2).sum(-1)
        radial = 1 + d[0] * r2 + d[1] * r2**2 + d[4] * r2**3
        tan = d[2] * x[:, 1] + d[3] * x[:, 0]  # no factor 2
        xd = x * (radial + tan)[:, None] + np.outer(r2, [d[3], d[2]])
        assert np.abs(xd * k[[0, 1], [0, 1]] + k[:2, 2] - uv).max() < 1e-4


def test_project_matches_opencv(h36m):
    subject, world = h36m.poses[0]
    for cam in h36m.camera_ids(subject):
        k, d, r, t = h36m.camera(subject, cam)
        xc = (world - t) @ r
        ours = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                              torch.from_numpy(d)).numpy()
        ref, _ = cv2.projectPoints(xc, np.zeros(3), np.zeros(3), k, d)
        np.testing.assert_allclose(ours, ref[:, 0], atol=1e-6)


def test_undistort_matches_opencv_and_round_trips(h36m):
    rng = np.random.default_rng(0)
    k, d, _, _ = h36m.camera('S1', '54138969')
    px = rng.uniform([0, 0], [1000, 1002], (2000, 2))
    ours = undistort_points(torch.from_numpy(px), torch.from_numpy(k),
                            torch.from_numpy(d)).numpy()
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-15)
    ref = cv2.undistortPointsIter(px[:, None], k, d, None, None,
                                  crit)[:, 0]
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    back = distort_normalized(torch.from_numpy(ours), torch.from_numpy(d))
    back = back.numpy() * k[[0, 1], [0, 1]] + k[:2, 2]
    np.testing.assert_allclose(back, px, atol=1e-8)
    # undistorted pixels (P = K)
    upx = undistort_points(torch.from_numpy(px), torch.from_numpy(k),
                           torch.from_numpy(d), normalized=False).numpy()
    np.testing.assert_allclose(upx, ours * k[[0, 1], [0, 1]] + k[:2, 2],
                               atol=1e-9)


def test_batched_over_cameras_and_float32():
    k = torch.tensor([[[1000., 0, 500], [0, 990, 480], [0, 0, 1]],
                      [[800., 0, 300], [0, 810, 250], [0, 0, 1]]])
    d = torch.tensor([[-0.2, 0.2, 0.001, -0.001, 0.0],
                      [0.1, -0.05, 0.0, 0.002, 0.01]])
    xy = torch.rand(2, 50, 2) * 0.6 - 0.3
    px = project_points(torch.cat([xy, torch.ones(2, 50, 1)], -1), k, d)
    back = undistort_points(px, k, d)
    assert back.dtype == torch.float32 and back.shape == (2, 50, 2)
    assert (back - xy).abs().max() < 1e-4


def test_non_invertible_lens_region_is_nan():
    # Strong barrel distortion folds over at large radii: no inverse there.
    d = torch.tensor([-0.5, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    out = undistort_normalized(torch.tensor([[0.1, 0.0], [5.0, 5.0]],
                                            dtype=torch.float64), d)
    assert torch.isfinite(out[0]).all() and torch.isnan(out[1]).all()
    assert distort_normalized(out[:1], d).sub(
        torch.tensor([[0.1, 0.0]], dtype=torch.float64)).abs().max() < 1e-12


@pytest.mark.parametrize('shape', [(3, 2), (2, 4, 2)])
def test_undistort_points_keeps_leading_shape(shape):
    k = torch.eye(3, dtype=torch.float64)
    px = torch.zeros(shape, dtype=torch.float64)
    assert undistort_points(px, k).shape == shape
