"""Small helpers shared by the geometry modules (not part of the API)."""
from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

ArrayLike = Union[Tensor, np.ndarray]


def to_tensor(x: ArrayLike,
              dtype: torch.dtype = torch.float64,
              device: Union[str, torch.device, None] = None) -> Tensor:
    """Convert an array to a tensor of ``dtype`` (keeps the device of
    tensors unless ``device`` is given)."""
    if isinstance(x, Tensor):
        return x.to(dtype=dtype, device=device if device is not None
                    else x.device)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def skew(v: Tensor) -> Tensor:
    """Cross-product matrices.

    Args:
        v (Tensor): Vectors, shape (..., 3).

    Returns:
        Tensor: ``[v]_x`` with ``[v]_x @ u == cross(v, u)``, shape
        (..., 3, 3).
    """
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    return torch.stack([
        torch.stack([zero, -z, y], -1),
        torch.stack([z, zero, -x], -1),
        torch.stack([-y, x, zero], -1),
    ], -2)


def homogeneous(x: Tensor) -> Tensor:
    """Append a 1 to the last axis: (..., D) -> (..., D + 1)."""
    return torch.cat([x, torch.ones_like(x[..., :1])], -1)


def smallest_eigvec(m: Tensor) -> Tuple[Tensor, Tensor]:
    """Eigenvector of the smallest eigenvalue of symmetric matrices.

    Solving the normal equations ``A^T A`` with ``eigh`` is several times
    faster than a batched SVD of ``A`` and is accurate in float64 on the
    well-conditioned (Hartley-normalised) systems used here.

    Args:
        m (Tensor): Symmetric positive semi-definite matrices, (..., n, n).

    Returns:
        tuple: ``vec`` (..., n) unit eigenvectors and ``evals`` (..., n)
        eigenvalues in ascending order.
    """
    # Replace non-finite systems so that LAPACK never sees NaN; callers
    # mark them invalid.
    finite = torch.isfinite(m).all(-1).all(-1)
    if not bool(finite.all()):
        eye = torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
        m = torch.where(finite[..., None, None], m, eye)
    evals, evecs = torch.linalg.eigh(m)
    return evecs[..., :, 0], evals


def det3(m: Tensor) -> Tensor:
    """Determinants of 3x3 matrices, (..., 3, 3) -> (...), closed form
    (faster than ``torch.linalg.det`` for large batches)."""
    return (m[..., 0, 0] * (m[..., 1, 1] * m[..., 2, 2] -
                            m[..., 1, 2] * m[..., 2, 1]) -
            m[..., 0, 1] * (m[..., 1, 0] * m[..., 2, 2] -
                            m[..., 1, 2] * m[..., 2, 0]) +
            m[..., 0, 2] * (m[..., 1, 0] * m[..., 2, 1] -
                            m[..., 1, 1] * m[..., 2, 0]))


def solve_sym3(m: Tensor, b: Tensor) -> Tuple[Tensor, Tensor]:
    """Solve 3x3 linear systems by the adjugate (Cramer's rule).

    Args:
        m (Tensor): Matrices, (..., 3, 3).
        b (Tensor): Right-hand sides, (..., 3).

    Returns:
        tuple: ``x`` (..., 3) and ``det`` (...) (``x`` is meaningless
        where ``det`` is ~0; callers check it).
    """
    c0 = torch.cross(m[..., 1, :], m[..., 2, :], dim=-1)
    c1 = torch.cross(m[..., 2, :], m[..., 0, :], dim=-1)
    c2 = torch.cross(m[..., 0, :], m[..., 1, :], dim=-1)
    det = (m[..., 0, :] * c0).sum(-1)
    # inverse = adj / det with adj columns c0, c1, c2
    adj = torch.stack([c0, c1, c2], -1)
    safe = torch.where(det.abs() > 0, det, torch.ones_like(det))
    x = (adj @ b[..., None])[..., 0] / safe[..., None]
    return x, det


def sanitize_correspondences(
        x1: Tensor, x2: Tensor,
        weights: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """Zero the weight (and the coordinates) of non-finite correspondences.

    Args:
        x1 (Tensor): Points of image 1, (B, N, 2).
        x2 (Tensor): Points of image 2, (B, N, 2).
        weights (Tensor, optional): Confidences (B, N); None means ones.

    Returns:
        tuple: ``x1``, ``x2`` with 0 where not finite, and ``weights`` with
        0 where either point is not finite or the weight is not positive.
    """
    if weights is None:
        weights = torch.ones_like(x1[..., 0])
    finite = torch.isfinite(x1).all(-1) & torch.isfinite(x2).all(-1)
    weights = torch.where(finite & (weights > 0), weights,
                          torch.zeros_like(weights))
    x1 = torch.where(finite[..., None], x1, torch.zeros_like(x1))
    x2 = torch.where(finite[..., None], x2, torch.zeros_like(x2))
    return x1, x2, weights


def as_input_type(outputs, like: ArrayLike):
    """Convert a sequence of tensors (or dicts of them) back to numpy, or
    to the float dtype of ``like`` when it is a tensor.

    Returns:
        tuple: One entry per output.
    """
    def convert(x):
        if isinstance(x, dict):
            return {k: convert(v) for k, v in x.items()}
        if isinstance(like, Tensor):
            if x.is_floating_point() and like.is_floating_point():
                return x.to(like.dtype)
            return x
        return x.cpu().numpy()

    return tuple(convert(o) for o in outputs)
