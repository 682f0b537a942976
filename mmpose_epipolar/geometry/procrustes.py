"""Similarity (Procrustes / Umeyama) alignment and PA-MPJPE (batched)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import det3


def procrustes_align(
        source: Tensor,
        target: Tensor,
        weights: Optional[Tensor] = None,
        scale: bool = True) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Least-squares similarity ``s R x + t`` mapping ``source`` onto
    ``target`` (Umeyama, PAMI 1991), with optional per-point weights.

    Args:
        source (Tensor): Points to align, shape (..., N, D).
        target (Tensor): Reference points, shape (..., N, D).
        weights (Tensor, optional): (..., N), 0 = ignore. Defaults to ones.
        scale (bool): Estimate the scale (otherwise s = 1, a rigid fit).

    Returns:
        tuple: ``aligned`` (..., N, D), ``s`` (...), ``R`` (..., D, D) a
        proper rotation, ``t`` (..., D). Problems with fewer than 3
        weighted points or a degenerate source give the identity.
    """
    if weights is None:
        weights = torch.ones_like(source[..., 0])
    finite = torch.isfinite(source).all(-1) & torch.isfinite(target).all(-1)
    weights = torch.where(finite & (weights > 0), weights,
                          torch.zeros_like(weights))
    source = torch.where(finite[..., None], source, torch.zeros_like(source))
    target = torch.where(finite[..., None], target, torch.zeros_like(target))
    wsum = weights.sum(-1, keepdim=True).clamp_min(1e-300)  # (..., 1)
    w = (weights / wsum)[..., None]  # (..., N, 1)
    mu_s = (w * source).sum(-2)
    mu_t = (w * target).sum(-2)
    xs = source - mu_s[..., None, :]
    xt = target - mu_t[..., None, :]
    cov = (w * xt).transpose(-1, -2) @ xs  # (..., D, D) target x source
    u, sv, vh = torch.linalg.svd(cov)
    d = torch.ones_like(sv)
    if source.shape[-1] == 3:
        sign = torch.sign(det3(u) * det3(vh))
    else:
        sign = torch.sign(torch.linalg.det(u) * torch.linalg.det(vh))
    d[..., -1] = torch.where(sign < 0, -1.0, 1.0).to(d)
    rot = u @ (d[..., :, None] * vh)
    var_s = (w * xs.square()).sum((-1, -2))
    ok = (var_s > 1e-300) & ((weights > 0).sum(-1) >= 3)
    if scale:
        s = (sv * d).sum(-1) / torch.where(ok, var_s, torch.ones_like(var_s))
    else:
        s = torch.ones_like(var_s)
    eye = torch.eye(source.shape[-1], dtype=source.dtype,
                    device=source.device).expand_as(rot)
    rot = torch.where(ok[..., None, None], rot, eye)
    s = torch.where(ok, s, torch.ones_like(s))
    t = mu_t - s[..., None] * (mu_s[..., None, :] @ rot.transpose(-1, -2))[
        ..., 0, :]
    t = torch.where(ok[..., None], t, torch.zeros_like(t))
    aligned = s[..., None, None] * (source @ rot.transpose(-1, -2)) + \
        t[..., None, :]
    return aligned, s, rot, t


def pa_mpjpe(pred: Tensor,
             target: Tensor,
             mask: Optional[Tensor] = None) -> Tensor:
    """Per-sample mean joint error after similarity alignment (PA-MPJPE).

    Args:
        pred (Tensor): Predicted joints, shape (..., J, 3).
        target (Tensor): Ground-truth joints, shape (..., J, 3).
        mask (Tensor, optional): (..., J) bool; joints used for both the
            alignment and the mean.

    Returns:
        Tensor: Errors in the unit of ``target``, shape (...); NaN for a
        sample with fewer than 3 joints in ``mask``.
    """
    if mask is None:
        mask = torch.ones_like(pred[..., 0], dtype=torch.bool)
    w = mask.to(pred.dtype)
    aligned, *_ = procrustes_align(pred, target, w)
    err = (aligned - target).norm(dim=-1)
    err = torch.where(mask, err, torch.zeros_like(err))
    count = mask.sum(-1)
    out = err.sum(-1) / count.clamp_min(1)
    return torch.where(count >= 3, out, torch.full_like(out, float('nan')))
