"""Essential matrices: from F and intrinsics, from normalised points,
projection onto the essential manifold, decomposition and cheirality."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import det3, skew
from .fundamental import fundamental_from_points


def essential_from_fundamental(fundamental: Tensor, intrinsics1: Tensor,
                               intrinsics2: Tensor) -> Tensor:
    """``E = K2^T F K1``.

    Args:
        fundamental (Tensor): ``F`` with ``x2^T F x1 = 0`` in pixels,
            shape (..., 3, 3).
        intrinsics1 (Tensor): ``K1``, shape (..., 3, 3).
        intrinsics2 (Tensor): ``K2``, shape (..., 3, 3).

    Returns:
        Tensor: ``E``, shape (..., 3, 3) (not projected onto the essential
        manifold; see :func:`project_to_essential`).
    """
    return intrinsics2.transpose(-1, -2) @ fundamental @ intrinsics1


def fundamental_from_essential(essential: Tensor, intrinsics1: Tensor,
                               intrinsics2: Tensor) -> Tensor:
    """``F = K2^-T E K1^-1``: (..., 3, 3) x 3 -> (..., 3, 3)."""
    return torch.linalg.inv(intrinsics2).transpose(-1, -2) @ essential @ \
        torch.linalg.inv(intrinsics1)


def project_to_essential(e: Tensor) -> Tensor:
    """Closest essential matrix: singular values set to (1, 1, 0).

    Args:
        e (Tensor): Matrices, shape (..., 3, 3).

    Returns:
        Tensor: Essential matrices with unit non-zero singular values,
        shape (..., 3, 3).
    """
    u, _, vh = torch.linalg.svd(e)
    s = torch.tensor([1.0, 1.0, 0.0], dtype=e.dtype, device=e.device)
    return u @ (s[:, None] * vh)


def essential_from_points(x1: Tensor,
                          x2: Tensor,
                          weights: Optional[Tensor] = None,
                          return_valid: bool = False
                          ) -> Tensor | Tuple[Tensor, Tensor]:
    """Weighted normalised 8-point algorithm on normalised (undistorted,
    ``K^-1``) coordinates, projected onto the essential manifold.

    Args:
        x1 (Tensor): Normalised points of view 1, (B, N, 2).
        x2 (Tensor): Normalised points of view 2, (B, N, 2).
        weights (Tensor, optional): (B, N), 0 = ignore.
        return_valid (bool): Also return the (B,) validity mask of
            :func:`fundamental_from_points`.

    Returns:
        Tensor | tuple: ``E`` (B, 3, 3) with ``x2^T E x1 = 0``.
    """
    f, valid = fundamental_from_points(
        x1, x2, weights, rank2=False, return_valid=True)
    e = project_to_essential(f)
    return (e, valid) if return_valid else e


def decompose_essential(e: Tensor) -> Tuple[Tensor, Tensor]:
    """The four ``(R, t)`` factorisations of an essential matrix.

    With ``E = U diag(1, 1, 0) V^T`` (``U``, ``V`` proper rotations) and
    ``W`` the 90 degree rotation about z: ``R in {U W V^T, U W^T V^T}``,
    ``t = +-u_3`` (unit length), for ``X_2 = R X_1 + t``.

    Args:
        e (Tensor): Essential matrices, shape (..., 3, 3).

    Returns:
        tuple: ``rotations`` (..., 4, 3, 3) and ``translations``
        (..., 4, 3), ordered (R1, t), (R1, -t), (R2, t), (R2, -t).
    """
    u, _, vh = torch.linalg.svd(e)
    # Flipping the sign of the null vectors keeps U S V^T unchanged (the
    # third singular value is 0) and makes both proper rotations.
    u = _fix_det(u, last_col=True)
    vh = _fix_det(vh, last_col=False)
    w = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                     dtype=e.dtype, device=e.device)
    r1 = u @ w @ vh
    r2 = u @ w.T @ vh
    t = u[..., :, 2]
    rotations = torch.stack([r1, r1, r2, r2], -3)
    translations = torch.stack([t, -t, t, -t], -2)
    return rotations, translations


def _fix_det(m: Tensor, last_col: bool) -> Tensor:
    """Negate the third column (U) or third row (V^T) where det = -1."""
    sign = torch.where(det3(m) < 0, -1.0, 1.0).to(m)
    scale = torch.ones_like(m[..., 0, :])
    scale = torch.cat([scale[..., :2], sign[..., None]], -1)
    return m * scale[..., None, :] if last_col else m * scale[..., :, None]


def triangulate_depths(x1: Tensor, x2: Tensor, rotation: Tensor,
                       translation: Tensor) -> Tuple[Tensor, Tensor]:
    """Depths of two-view correspondences along their rays (linear least
    squares of ``d2 x2 = d1 R x1 + t``), cheap enough for cheirality tests
    over many candidates.

    Args:
        x1 (Tensor): Normalised points of view 1, (..., N, 2).
        x2 (Tensor): Normalised points of view 2, (..., N, 2).
        rotation (Tensor): ``R`` (..., 3, 3).
        translation (Tensor): ``t`` (..., 3).

    Returns:
        tuple: ``d1`` and ``d2`` (..., N), the depths (z) in each camera;
        inf/NaN for parallel rays (callers treat as invalid).
    """
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1)
    h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1)
    a = h1 @ rotation.transpose(-1, -2)  # R x1, (..., N, 3)
    t = translation[..., None, :]
    # Normal equations of [a, -h2] [d1, d2]^T = -t
    aa = (a * a).sum(-1)
    ab = (a * h2).sum(-1)
    bb = (h2 * h2).sum(-1)
    at = (a * t).sum(-1)
    bt = (h2 * t).sum(-1)
    det = aa * bb - ab * ab
    d1 = (-bb * at + ab * bt) / det
    d2 = (aa * bt - ab * at) / det
    return d1, d2


def recover_pose(e: Tensor,
                 x1: Tensor,
                 x2: Tensor,
                 weights: Optional[Tensor] = None,
                 max_depth: float = 1e4,
                 max_points: Optional[int] = 16384
                 ) -> Tuple[Tensor, Tensor, Tensor]:
    """Pick each batch element's own ``(R, t)`` from its essential matrix
    by the cheirality test (weighted count of points in front of both
    cameras), like ``cv2.recoverPose``.

    Every problem of a batch is scored and indexed independently, so a batch
    mixing different camera pairs gets each pair's own pose.

    Args:
        e (Tensor): Essential matrices, (B, 3, 3).
        x1 (Tensor): Normalised points of view 1, (B, N, 2).
        x2 (Tensor): Normalised points of view 2, (B, N, 2).
        weights (Tensor, optional): (B, N), 0 = ignore.
        max_depth (float): Points farther than this many baselines count
            as being at infinity (neither in front nor behind).
        max_points (int, optional): Vote with at most this many points
            (a fixed-stride subset), which is plenty to tell the four
            candidates apart when pooling many frames.

    Returns:
        tuple: ``R`` (B, 3, 3), unit ``t`` (B, 3) with
        ``X_2 = R X_1 + t``, and ``in_front`` (B,) the weighted fraction
        of points in front of both cameras for the chosen solution.
    """
    if weights is None:
        weights = torch.ones_like(x1[..., 0])
    if max_points is not None and x1.shape[-2] > max_points:
        stride = -(-x1.shape[-2] // max_points)
        x1, x2 = x1[..., ::stride, :], x2[..., ::stride, :]
        weights = weights[..., ::stride]
    rots, trans = decompose_essential(e)  # (B, 4, 3, 3), (B, 4, 3)
    d1, d2 = triangulate_depths(x1[:, None], x2[:, None], rots, trans)
    front = (d1 > 0) & (d2 > 0) & (d1 < max_depth) & (d2 < max_depth)
    w = weights[:, None].expand_as(d1)
    score = (w * front).sum(-1)  # (B, 4)
    best = score.argmax(-1)  # (B,)
    idx = torch.arange(e.shape[0], device=e.device)
    total = weights.sum(-1).clamp_min(1e-300)
    return rots[idx, best], trans[idx, best], score[idx, best] / total


def essential_from_pose(rotation: Tensor, translation: Tensor) -> Tensor:
    """``E = [t]_x R``: (..., 3, 3), (..., 3) -> (..., 3, 3)."""
    return skew(translation) @ rotation
