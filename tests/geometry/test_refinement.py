"""Resection and bundle adjustment on real Human3.6M rigs."""
import numpy as np
import torch

from mmpose_epipolar.geometry import (
    bundle_adjust,
    resect_dlt,
    undistort_points,
)


def _rig(h36m, noise=0.0, frames=12, seed=0):
    rng = np.random.default_rng(seed)
    subject, world = h36m.poses[0]
    cams = h36m.camera_ids(subject)
    poses = h36m.jitter(world, frames, rng)
    kps, k, d, gt, rot, trans = h36m.render(poses, subject, cams, noise, rng)
    xn = undistort_points(
        torch.from_numpy(kps[..., :2]).permute(1, 0, 2, 3),
        torch.from_numpy(k)[:, None], torch.from_numpy(d)[:, None]
    ).permute(1, 0, 2, 3)
    return xn, torch.from_numpy(gt), torch.from_numpy(rot), \
        torch.from_numpy(trans), float(k[:, :2, :2].diagonal(0, 1, 2).mean())


def _angle_deg(r1, r2):
    cos = ((r1.transpose(-1, -2) @ r2).diagonal(0, -2, -1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def test_resection_recovers_every_real_camera(h36m):
    xn, gt, rot, trans, _ = _rig(h36m)
    num_views = xn.shape[1]
    points = gt.reshape(1, -1, 3).expand(num_views, -1, -1)
    obs = xn.permute(1, 0, 2, 3).reshape(num_views, -1, 2)
    r, t, ok = resect_dlt(points, obs, torch.ones_like(obs[..., 0]))
    assert ok.all()
    torch.testing.assert_close(r, rot, atol=1e-6, rtol=0)
    torch.testing.assert_close(t, trans, atol=1e-6, rtol=0)
    # Too few points, or all weights 0: invalid, never NaN.
    r, t, ok = resect_dlt(points[:, :5], obs[:, :5], torch.ones(4, 5,
                                                                dtype=gt.dtype))
    assert not ok.any() and torch.isfinite(r).all()


def test_bundle_adjustment_undoes_perturbed_poses(h36m):
    xn, gt, rot, trans, focal = _rig(h36m)
    scale = trans[1].norm()
    trans = trans / scale  # the |t_1| = 1 gauge
    generator = torch.Generator().manual_seed(0)
    delta = torch.randn(3, 3, generator=generator, dtype=gt.dtype) * 0.05
    noisy_rot = rot.clone()
    for v in range(1, 4):
        skew = torch.zeros(3, 3, dtype=gt.dtype)
        a = delta[v - 1]
        skew[0, 1], skew[0, 2], skew[1, 2] = -a[2], a[1], -a[0]
        skew = skew - skew.T
        noisy_rot[v] = torch.linalg.matrix_exp(skew) @ rot[v]
    noisy_trans = trans + torch.cat(
        [torch.zeros(1, 3, dtype=gt.dtype),
         torch.randn(3, 3, generator=generator, dtype=gt.dtype) * 0.05])
    assert _angle_deg(noisy_rot[1:], rot[1:]).min() > 1.0
    weights = torch.ones(xn.shape[:-1], dtype=gt.dtype)
    pose_index = torch.zeros(xn.shape[0], dtype=torch.long)
    r, t = bundle_adjust(xn, weights, noisy_rot[None], noisy_trans[None],
                         pose_index, focal)
    # From > 1 degree off to the true poses (noise-free observations).
    assert _angle_deg(r[0], rot).max() < 0.01
    torch.testing.assert_close(t[0], trans, atol=1e-4, rtol=0)
