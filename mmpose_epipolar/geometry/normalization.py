"""Hartley point normalisation (batched, confidence-weighted)."""
from typing import Optional, Tuple

import torch
from torch import Tensor


def hartley_normalize(points: Tensor,
                      weights: Optional[Tensor] = None,
                      eps: float = 1e-12) -> Tuple[Tensor, Tensor]:
    """Translate and scale 2D points so that their weighted centroid is the
    origin and their weighted mean distance to it is sqrt(2).

    Hartley, "In defense of the eight-point algorithm", PAMI 1997. Points
    with weight 0 do not influence the transform (they are still mapped).

    Args:
        points (Tensor): 2D points, shape (B, N, 2).
        weights (Tensor, optional): Non-negative weights, shape (B, N).
            Defaults to all ones.
        eps (float): Floor of the mean distance, so that coincident points
            give a finite (degenerate) transform instead of inf.

    Returns:
        tuple:
        - normalized (Tensor): ``T @ [x, y, 1]`` dehomogenised, (B, N, 2).
        - transform (Tensor): The similarity ``T``, shape (B, 3, 3).
    """
    if weights is None:
        weights = torch.ones_like(points[..., 0])
    wsum = weights.sum(-1, keepdim=True).clamp_min(eps)  # (B, 1)
    centroid = (points * weights[..., None]).sum(-2) / wsum  # (B, 2)
    centered = points - centroid[..., None, :]
    mean_dist = (centered.norm(dim=-1) * weights).sum(-1) / wsum[..., 0]
    scale = (2.0**0.5) / mean_dist.clamp_min(eps)  # (B,)
    normalized = centered * scale[..., None, None]
    transform = torch.zeros(points.shape[:-2] + (3, 3),
                            dtype=points.dtype, device=points.device)
    transform[..., 0, 0] = scale
    transform[..., 1, 1] = scale
    transform[..., :2, 2] = -centroid * scale[..., None]
    transform[..., 2, 2] = 1.0
    return normalized, transform
