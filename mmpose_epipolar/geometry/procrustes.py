"""Similarity (Procrustes / Umeyama) and scale alignment, and the errors
after them (batched): the one home of the alignments behind PA-MPJPE,
P-MPJPE and N-MPJPE."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import det3

#: Fewest usable joints a sample needs for an aligned error (P-MPJPE,
#: N-MPJPE). Three points already fix a 7-dof similarity up to 2 residual
#: dofs, so a fit on 3 joints would score almost any pose near zero.
MIN_ALIGN_POINTS = 4

#: Alignments of :func:`aligned_joint_errors`: ``'none'`` (MPJPE),
#: ``'scale'`` (N-MPJPE), ``'procrustes'`` (P-MPJPE / PA-MPJPE).
ALIGNMENTS = ('none', 'scale', 'procrustes')


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
        weights (Tensor, optional): (..., N), 0 = ignore. Non-finite points
            are ignored too. Defaults to ones.
        scale (bool): Estimate the scale (otherwise s = 1, a rigid fit).

    Returns:
        tuple: ``aligned`` (..., N, D) (every point of ``source`` moved,
        ignored ones included; non-finite ones stay non-finite), ``s``
        (...), ``R`` (..., D, D) a proper rotation, ``t`` (..., D). Problems
        with fewer than 3 weighted points or a degenerate source give the
        identity.
    """
    points = source
    source, target, weights = _usable(source, target, weights)
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
    # Every point is moved, ignored ones included; a NaN point stays NaN.
    aligned = s[..., None, None] * (points @ rot.transpose(-1, -2)) + \
        t[..., None, :]
    return aligned, s, rot, t


def _usable(source: Tensor, target: Tensor,
            weights: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """Weights (..., N) and coordinates (..., N, D) for a fit: a non-finite
    point gets weight 0, and every point of weight 0 gets zero coordinates,
    so neither a NaN nor a huge garbage value at an ignored point can reach
    the sums or the SVD (0 * NaN and 0 * inf are NaN)."""
    if weights is None:
        weights = torch.ones_like(source[..., 0])
    finite = torch.isfinite(source).all(-1) & torch.isfinite(target).all(-1)
    keep = finite & (weights > 0)
    weights = torch.where(keep, weights, torch.zeros_like(weights))
    source = torch.where(keep[..., None], source, torch.zeros_like(source))
    target = torch.where(keep[..., None], target, torch.zeros_like(target))
    return source, target, weights


def scale_align(source: Tensor,
                target: Tensor,
                weights: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Least-squares scale ``s x`` mapping ``source`` onto ``target`` about
    the origin (N-MPJPE's alignment; the origin is the root of root-relative
    poses), with optional per-point weights.

    Args:
        source (Tensor): Points to align, shape (..., N, D).
        target (Tensor): Reference points, shape (..., N, D).
        weights (Tensor, optional): (..., N), 0 = ignore. Non-finite points
            are ignored too. Defaults to ones.

    Returns:
        tuple: ``aligned`` (..., N, D) (``s`` times ``source``, so NaN stays
        NaN), ``s`` (...). A problem without a weighted non-zero point gives
        ``s = 1``.
    """
    src, tgt, weights = _usable(source, target, weights)
    num = (weights * (src * tgt).sum(-1)).sum(-1)
    den = (weights * src.square().sum(-1)).sum(-1)
    ok = den > 1e-300
    s = torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)),
                    torch.ones_like(den))
    return s[..., None, None] * source, s


def aligned_joint_errors(
        pred: Tensor,
        target: Tensor,
        mask: Optional[Tensor] = None,
        alignment: str = 'procrustes',
        min_points: int = MIN_ALIGN_POINTS) -> Tuple[Tensor, Tensor]:
    """Euclidean error of every joint after an alignment fitted, per sample,
    on the joints in ``mask`` only.

    A joint outside ``mask`` never influences the fit, whatever its
    coordinates (zeros, garbage or NaN); a joint in ``mask`` with a
    non-finite coordinate is left out of the fit and keeps a non-finite
    error, so a broken prediction is never hidden.

    Args:
        pred (Tensor): Predicted joints, shape (..., J, 3).
        target (Tensor): Ground-truth joints, shape (..., J, 3).
        mask (Tensor, optional): (..., J) bool, the joints that count.
            Defaults to all.
        alignment (str): ``'none'``, ``'scale'`` (:func:`scale_align`) or
            ``'procrustes'`` (:func:`procrustes_align`).
        min_points (int): Fewest finite joints in ``mask`` for a sample to
            be aligned (ignored for ``'none'``). Defaults to
            :data:`MIN_ALIGN_POINTS`.

    Returns:
        tuple: ``errors`` (..., J) in the unit of ``target`` (not finite
        where ``pred`` or ``target`` is not) and ``counted`` (..., J) bool,
        ``mask`` restricted to the samples that were aligned: the entries an
        aligned mean error averages.
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f'alignment must be one of {ALIGNMENTS}, got '
                         f'{alignment!r}')
    if mask is None:
        mask = torch.ones_like(pred[..., 0], dtype=torch.bool)
    mask = mask.bool()
    weights = mask.to(pred.dtype)
    if alignment == 'procrustes':
        aligned, *_ = procrustes_align(pred, target, weights)
    elif alignment == 'scale':
        aligned, _ = scale_align(pred, target, weights)
    else:
        aligned = pred
    errors = (aligned - target).norm(dim=-1)
    if alignment == 'none':
        return errors, mask
    finite = torch.isfinite(pred).all(-1) & torch.isfinite(target).all(-1)
    fitted = (mask & finite).sum(-1) >= min_points
    return errors, mask & fitted[..., None]


def pa_mpjpe(pred: Tensor,
             target: Tensor,
             mask: Optional[Tensor] = None,
             min_points: int = 3) -> Tensor:
    """Per-sample mean joint error after similarity alignment (PA-MPJPE).

    Args:
        pred (Tensor): Predicted joints, shape (..., J, 3).
        target (Tensor): Ground-truth joints, shape (..., J, 3).
        mask (Tensor, optional): (..., J) bool; joints used for both the
            alignment and the mean.
        min_points (int): Fewest finite joints in ``mask`` for a result.
            Defaults to 3 (the engine's benchmarks and tests; the metric
            uses :data:`MIN_ALIGN_POINTS`).

    Returns:
        Tensor: Errors in the unit of ``target``, shape (...); NaN for a
        sample with fewer than ``min_points`` finite joints in ``mask`` or a
        non-finite joint in it.
    """
    errors, counted = aligned_joint_errors(pred, target, mask, 'procrustes',
                                           min_points)
    err = torch.where(counted, errors, torch.zeros_like(errors))
    count = counted.sum(-1)
    out = err.sum(-1) / count.clamp_min(1)
    return torch.where(count > 0, out, torch.full_like(out, float('nan')))
