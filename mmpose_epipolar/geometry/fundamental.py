"""Confidence-weighted normalised 8-point estimation of the fundamental
matrix and epipolar error measures (batched)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import homogeneous, sanitize_correspondences, smallest_eigvec
from .normalization import hartley_normalize

#: A problem whose second-smallest eigenvalue of ``A^T A`` is below this
#: fraction of the largest has a null space of dimension > 1 (collinear,
#: coincident or planar points, identical views): F is not determined.
DEGENERACY_RATIO = 1e-10


def _design_matrix(x1: Tensor, x2: Tensor) -> Tensor:
    """Rows of the epipolar constraint ``x2^T F x1 = 0`` for ``vec(F)``
    (row-major): (..., N, 2) x 2 -> (..., N, 9)."""
    u1, v1 = x1[..., 0], x1[..., 1]
    u2, v2 = x2[..., 0], x2[..., 1]
    one = torch.ones_like(u1)
    return torch.stack([
        u2 * u1, u2 * v1, u2, v2 * u1, v2 * v1, v2, u1, v1, one
    ], -1)


def enforce_rank2(f: Tensor) -> Tensor:
    """Closest rank-2 matrix in Frobenius norm (smallest singular value set
    to 0): (..., 3, 3) -> (..., 3, 3)."""
    u, s, vh = torch.linalg.svd(f)
    s = torch.cat([s[..., :2], torch.zeros_like(s[..., 2:])], -1)
    return u @ (s[..., :, None] * vh)


def _normalize_frobenius(f: Tensor) -> Tensor:
    """Scale to unit Frobenius norm with a deterministic sign (the largest
    absolute entry positive) so that results are comparable."""
    flat = f.flatten(-2)
    idx = flat.abs().argmax(-1, keepdim=True)
    sign = torch.sign(flat.gather(-1, idx)).clamp_min(0) * 2 - 1
    norm = flat.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return (flat * sign / norm).unflatten(-1, (3, 3))


def fundamental_from_points(
        x1: Tensor,
        x2: Tensor,
        weights: Optional[Tensor] = None,
        rank2: bool = True,
        return_valid: bool = False
) -> Tensor | Tuple[Tensor, Tensor]:
    """Confidence-weighted normalised 8-point algorithm.

    Minimises ``sum_i (w_i * x2_i^T F x1_i)^2`` over ``||F|| = 1`` after
    Hartley normalisation of each image, then enforces rank 2.

    Args:
        x1 (Tensor): Points in the first image, shape (B, N, 2), N >= 8.
        x2 (Tensor): Corresponding points in the second image, (B, N, 2).
        weights (Tensor, optional): Per-correspondence weights, (B, N);
            0 ignores a point (its coordinates may then be anything
            finite). Defaults to all ones.
        rank2 (bool): Enforce rank 2. Defaults to True.
        return_valid (bool): Also return the validity mask.

    Returns:
        Tensor | tuple: ``F`` (B, 3, 3) with ``x2^T F x1 = 0`` and unit
        Frobenius norm, and if ``return_valid`` a bool mask (B,) that is
        False for problems with fewer than 8 weighted points, non-finite
        input or a degenerate configuration.
    """
    if x1.shape != x2.shape or x1.shape[-1] != 2:
        raise ValueError(f'x1 and x2 must both have shape (B, N, 2), got '
                         f'{tuple(x1.shape)} and {tuple(x2.shape)}')
    x1, x2, weights = sanitize_correspondences(x1, x2, weights)

    n1, t1 = hartley_normalize(x1, weights)
    n2, t2 = hartley_normalize(x2, weights)
    a = _design_matrix(n1, n2) * weights[..., None]
    ata = a.transpose(-1, -2) @ a  # (B, 9, 9)
    vec, evals = smallest_eigvec(ata)
    f = vec.unflatten(-1, (3, 3))
    if rank2:
        f = enforce_rank2(f)
    f = t2.transpose(-1, -2) @ f @ t1
    f = _normalize_frobenius(f)
    if not return_valid:
        return f
    valid = ((weights > 0).sum(-1) >= 8) & \
        (evals[..., 1] > DEGENERACY_RATIO * evals[..., -1].clamp_min(0)) & \
        torch.isfinite(f).flatten(-2).all(-1)
    return f, valid


def sampson_error(f: Tensor, x1: Tensor, x2: Tensor) -> Tensor:
    """Squared Sampson distance (first-order geometric error).

    Args:
        f (Tensor): Fundamental (or essential) matrices, shape (..., 3, 3).
        x1 (Tensor): Points in image 1, shape (..., N, 2).
        x2 (Tensor): Points in image 2, shape (..., N, 2).

    Returns:
        Tensor: ``(x2^T F x1)^2 / (|F x1|_{1,2}^2 + |F^T x2|_{1,2}^2)``
        in squared units of the points, shape (..., N).
    """
    h1, h2 = homogeneous(x1), homogeneous(x2)
    fx1 = h1 @ f.transpose(-1, -2)  # (..., N, 3) rows F x1
    ftx2 = h2 @ f  # rows F^T x2
    num = (h2 * fx1).sum(-1)**2
    den = fx1[..., 0]**2 + fx1[..., 1]**2 + ftx2[..., 0]**2 + \
        ftx2[..., 1]**2
    return num / den.clamp_min(1e-300)


def symmetric_epipolar_distance(f: Tensor, x1: Tensor, x2: Tensor) -> Tensor:
    """Squared distances of each point to its epipolar line, summed over
    both images: (..., 3, 3), (..., N, 2) x 2 -> (..., N)."""
    h1, h2 = homogeneous(x1), homogeneous(x2)
    fx1 = h1 @ f.transpose(-1, -2)
    ftx2 = h2 @ f
    num = (h2 * fx1).sum(-1)**2
    d2 = num / (fx1[..., 0]**2 + fx1[..., 1]**2).clamp_min(1e-300)
    d1 = num / (ftx2[..., 0]**2 + ftx2[..., 1]**2).clamp_min(1e-300)
    return d1 + d2
