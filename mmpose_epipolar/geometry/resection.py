"""Camera resection: the pose of a calibrated view from known 3D points."""
from typing import Tuple

import torch
from torch import Tensor

from ._utils import smallest_eigvec


def _normalisation(points: Tensor, weights: Tensor) -> Tuple[Tensor, Tensor]:
    """Weighted centroid (B, 3) and RMS distance (B,) of (B, N, 3) points."""
    total = weights.sum(-1, keepdim=True).clamp(min=1e-12)
    centre = (points * weights[..., None]).sum(-2) / total
    spread = (((points - centre[:, None]).square().sum(-1) * weights).sum(-1)
              / total[:, 0]).sqrt().clamp(min=1e-12)
    return centre, spread


def resect_dlt(points: Tensor, observed: Tensor,
               weights: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Linear (DLT) resection of calibrated cameras, batched.

    Solves ``x ~ [R | t] X`` for the 3 x 4 matrix from at least 6 weighted
    correspondences between 3D points and normalised (``K^-1``,
    undistorted) image points, then projects its left 3 x 3 block onto the
    rotations (SVD) and fixes the sign so that the points lie in front of
    the camera. The 3D points are centred and scaled first (Hartley) for
    conditioning.

    Args:
        points (Tensor): 3D points (B, N, 3).
        observed (Tensor): Normalised image points (B, N, 2).
        weights (Tensor): Confidences (B, N); 0 ignores a correspondence.

    Returns:
        tuple: ``R`` (B, 3, 3), ``t`` (B, 3) with ``x ~ R X + t``, and
        ``valid`` (B,) bool: at least 6 weighted, finite correspondences,
        most of them in front of the camera.
    """
    finite = torch.isfinite(points).all(-1) & torch.isfinite(observed).all(-1)
    w = torch.where(finite, weights, torch.zeros_like(weights))
    points = torch.where(finite[..., None], points, torch.zeros_like(points))
    observed = torch.where(finite[..., None], observed,
                           torch.zeros_like(observed))
    centre, spread = _normalisation(points, w)
    normed = (points - centre[:, None]) / spread[:, None, None]
    homog = torch.cat([normed, torch.ones_like(normed[..., :1])], -1)
    zeros = torch.zeros_like(homog)
    x, y = observed[..., :1], observed[..., 1:]
    rows = torch.stack([
        torch.cat([homog, zeros, -x * homog], -1),
        torch.cat([zeros, homog, -y * homog], -1)
    ], -2) * w[..., None, None]  # (B, N, 2, 12)
    a = rows.flatten(1, 2)
    vec, _ = smallest_eigvec(a.transpose(-1, -2) @ a)
    proj = vec.view(-1, 3, 4)
    # Undo the normalisation: P_n [X_n; 1] = P [X; 1].
    m = proj[..., :3] / spread[:, None, None]
    p4 = proj[..., 3] - (m @ centre[..., None])[..., 0]
    depth = (points @ m[..., 2:, :].transpose(-1, -2))[..., 0] + p4[:, 2:]
    in_front = ((depth > 0).to(w) * w).sum(-1) / w.sum(-1).clamp(min=1e-12)
    sign = torch.where(in_front >= 0.5, 1.0, -1.0).to(m)
    m, p4 = m * sign[:, None, None], p4 * sign[:, None]
    u, s, vh = torch.linalg.svd(m)
    det = torch.det(u @ vh)
    fix = torch.ones_like(s)
    fix[:, 2] = det
    rot = u @ torch.diag_embed(fix) @ vh
    scale = s.mean(-1).clamp(min=1e-12)
    trans = p4 / scale[:, None]
    in_front = torch.maximum(in_front, 1 - in_front)
    valid = ((w > 0).sum(-1) >= 6) & (in_front > 0.9) & (det > 0) & \
        torch.isfinite(rot).flatten(1).all(-1) & torch.isfinite(trans).all(-1)
    return rot, trans, valid
