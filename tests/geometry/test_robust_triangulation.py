"""Triangulation that resists one outlier view: real Human3.6M poses
through the four real cameras of their subject, one camera's 2D with left
and right swapped in every other frame (the commonest failure of a 2D
detector)."""
import numpy as np
import torch

from mmpose_epipolar.datasets.joint_layouts import flip_indices
from mmpose_epipolar.geometry import epipolar_triangulate
from mmpose_epipolar.geometry.procrustes import aligned_joint_errors
from mmpose_epipolar.geometry.triangulation import (
    projection_matrices,
    triangulate_dlt,
    triangulate_robust,
)

MIRROR = flip_indices('h36m17')
SIDED = np.array(MIRROR) != np.arange(17)
SWAPPED_VIEW = 2


def _scene(h36m, noise, frames=20):
    rng = np.random.default_rng(0)
    subject, world = h36m.poses[0]
    poses = h36m.jitter(world, frames, rng)
    kp, k, d, gt, rot, trans = h36m.render(poses, subject,
                                           h36m.camera_ids(subject), noise,
                                           rng)
    bad = kp.copy()
    bad[::2, SWAPPED_VIEW] = kp[::2, SWAPPED_VIEW][:, MIRROR]
    return kp, bad, k, d, gt, rot, trans


def test_the_swapped_view_does_not_drag_the_joints(h36m):
    _, _, k, _, gt, rot, trans = _scene(h36m, noise=0.0)
    gt = torch.as_tensor(gt)
    rot, trans = torch.as_tensor(rot), torch.as_tensor(trans)
    cam = gt[:, None] @ rot.transpose(-1, -2)[None] + trans[None, :, None]
    obs = cam[..., :2] / cam[..., 2:]  # exact normalised coordinates
    obs[::2, SWAPPED_VIEW] = obs[::2, SWAPPED_VIEW][:, MIRROR]
    proj = projection_matrices(rot, trans).expand(len(gt), -1, -1, -1)
    weights = torch.ones(obs.shape[:3], dtype=obs.dtype)
    plain, ok_plain = triangulate_dlt(obs, proj, weights, 'linear')
    robust, ok_robust = triangulate_robust(obs, proj, weights,
                                           scale=3.0 / k[0, 0, 0])
    assert ok_plain.all() and ok_robust.all()
    err_plain = (plain - gt).norm(dim=-1)
    err_robust = (robust - gt).norm(dim=-1)
    hit = torch.zeros_like(err_plain, dtype=torch.bool)
    hit[::2] = torch.as_tensor(SIDED)
    # Metres: the plain DLT is pulled by centimetres on every swapped
    # joint; the robust one recovers every joint to a tenth of a
    # millimetre (the outlier keeps a vanishing Cauchy weight).
    assert err_plain[hit].min() > 0.005
    assert err_plain[hit].median() > 0.03
    assert err_robust.max() < 1e-4
    # Without an outlier it is the plain DLT.
    assert torch.allclose(robust[1::2], plain[1::2], atol=1e-9)
    # Two views: nothing to leave out, the plain DLT.
    two, _ = triangulate_robust(obs[:, :2], proj[:, :2], weights[:, :2],
                                scale=3.0 / k[0, 0, 0])
    assert torch.equal(two, triangulate_dlt(obs[:, :2], proj[:, :2],
                                            weights[:, :2], 'linear')[0])


def _label_error(kp, k, d, gt, robust):
    points, valid = epipolar_triangulate(kp, k, d, pooled=True,
                                         robust_triangulation=robust)
    errors, counted = aligned_joint_errors(torch.as_tensor(points),
                                           torch.as_tensor(gt),
                                           torch.as_tensor(valid))
    return 1000 * errors[counted].mean().item()  # mm, Procrustes per frame


def test_engine_option_on_noisy_real_cameras(h36m):
    clean, bad, k, d, gt, _, _ = _scene(h36m, noise=1.0)
    plain_bad = _label_error(bad, k, d, gt, robust=False)
    robust_bad = _label_error(bad, k, d, gt, robust=True)
    plain_clean = _label_error(clean, k, d, gt, robust=False)
    robust_clean = _label_error(clean, k, d, gt, robust=True)
    print(f'PA error mm: swapped plain {plain_bad:.1f} robust '
          f'{robust_bad:.1f}; clean plain {plain_clean:.1f} robust '
          f'{robust_clean:.1f}')
    # Measured: swapped plain 43.7, robust 6.7; clean plain 5.5, robust 5.9.
    assert robust_bad < 0.25 * plain_bad
    assert robust_bad < 2 * plain_clean
    assert abs(robust_clean - plain_clean) < 0.1 * plain_clean
