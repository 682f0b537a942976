"""Robust, confidence-aware estimation of fundamental / essential matrices
with batched hypotheses (LMedS or RANSAC), followed by a weighted refit on
the inliers."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import sanitize_correspondences
from .essential import project_to_essential
from .fundamental import fundamental_from_points, sampson_error

#: Rousseeuw's LMedS scale estimate: sigma = 1.4826 (1 + 5 / (n - p)) sqrt(med)
_MAD_TO_SIGMA = 1.4826


def _sample_minimal_sets(weights: Tensor, num_hypotheses: int,
                         generator: Optional[torch.Generator]) -> Tensor:
    """Draw ``num_hypotheses`` sets of 8 indices per problem, each point with
    probability proportional to its weight.

    Small problems sample without replacement (Gumbel top-k), so that a
    minimal set never repeats a point; large ones with replacement
    (repeats are then rare and only waste a hypothesis).

    Args:
        weights (Tensor): (B, N) non-negative.

    Returns:
        Tensor: Indices (B, H, 8).
    """
    b, n = weights.shape
    if n <= 2048:
        u = torch.rand((b, num_hypotheses, n), dtype=weights.dtype,
                       device=weights.device, generator=generator)
        gumbel = -torch.log(-torch.log(u.clamp(1e-300, 1 - 1e-16)))
        keys = torch.log(weights.clamp_min(1e-300))[:, None] + gumbel
        keys = keys.masked_fill((weights <= 0)[:, None], -float('inf'))
        return keys.topk(8, dim=-1).indices
    probs = weights.clamp_min(0) + (weights.sum(-1, keepdim=True) <= 0)
    idx = torch.multinomial(probs, num_hypotheses * 8, replacement=True,
                            generator=generator)
    return idx.view(b, num_hypotheses, 8)


def weighted_median(values: Tensor,
                     weights: Tensor,
                     max_samples: Optional[int] = None) -> Tensor:
    """Weighted median along the last axis: (..., N) -> (...).

    With ``max_samples``, longer inputs are subsampled with a fixed stride
    (for summary statistics of very many points, where sorting all of
    them would dominate the run time).
    """
    weights = weights.expand_as(values)
    if max_samples is not None and values.shape[-1] > max_samples:
        stride = -(-values.shape[-1] // max_samples)
        values, weights = values[..., ::stride], weights[..., ::stride]
    v, order = values.sort(-1)
    w = weights.expand_as(values).gather(-1, order)
    cdf = w.cumsum(-1)
    half = 0.5 * cdf[..., -1:]
    idx = (cdf < half).sum(-1, keepdim=True).clamp_max(v.shape[-1] - 1)
    return v.gather(-1, idx)[..., 0]


def refit_fundamental(x1: Tensor, x2: Tensor, weights: Tensor,
                      essential: bool, iters: int) -> Tuple[Tensor, Tensor]:
    """Weighted 8-point fit, then ``iters`` Sampson reweighting steps: row
    weights ``w / |grad(x2^T F x1)|`` make the algebraic residual
    approximate the geometric (Sampson) one (IRLS)."""
    f, valid = fundamental_from_points(x1, x2, weights, return_valid=True)
    for _ in range(iters):
        if essential:
            f = project_to_essential(f)
        h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1)
        h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1)
        fx1 = h1 @ f.transpose(-1, -2)
        ftx2 = h2 @ f
        grad = (fx1[..., :2].square().sum(-1) +
                ftx2[..., :2].square().sum(-1)).sqrt()
        # Floor the gradient so that one point cannot dominate the fit.
        floor = 0.1 * weighted_median(grad, (weights > 0).to(grad), 16384)
        w = weights / torch.maximum(grad, floor[..., None]).clamp_min(1e-300)
        f, ok = fundamental_from_points(x1, x2, w, return_valid=True)
        valid = valid & ok
    if essential:
        f = project_to_essential(f)
    return f, valid


def robust_fundamental(x1: Tensor,
                       x2: Tensor,
                       weights: Optional[Tensor] = None,
                       method: str = 'lmeds',
                       threshold: float = 1e-3,
                       num_hypotheses: int = 256,
                       score_points: int = 4096,
                       refine_iters: int = 2,
                       essential: bool = False,
                       generator: Optional[torch.Generator] = None
                       ) -> Tuple[Tensor, Tensor, Tensor]:
    """Robust (LMedS or RANSAC) fundamental or essential matrix estimation,
    batched over problems and hypotheses.

    Every problem draws ``num_hypotheses`` minimal sets of 8 points
    (confidence-weighted sampling) and solves them as one batched 9x9
    eigenproblem. Hypotheses are scored by the confidence-weighted Sampson
    error on (a random subset of at most ``score_points`` of) the points:
    LMedS minimises the weighted median, RANSAC maximises the weight of
    points under ``threshold``. The best hypothesis defines the inliers,
    on which the weighted 8-point algorithm is refitted with Sampson
    reweighting.

    Args:
        x1 (Tensor): Points of image 1, (B, N, 2) (normalised coordinates
            for ``essential=True``).
        x2 (Tensor): Points of image 2, (B, N, 2).
        weights (Tensor, optional): Confidences (B, N), 0 = ignore.
        method (str): ``'lmeds'`` or ``'ransac'``.
        threshold (float): Inlier distance in the units of the points.
            RANSAC's threshold; for LMedS the floor of the adaptive
            threshold ``2.5 sigma``.
        num_hypotheses (int): Minimal sets per problem.
        score_points (int): Points used to score hypotheses.
        refine_iters (int): Sampson reweighting steps of the refit.
        essential (bool): Project hypotheses and the result onto the
            essential manifold.
        generator (torch.Generator, optional): For reproducible sampling.

    Returns:
        tuple: ``F`` (B, 3, 3), ``inliers`` (B, N) bool and ``valid`` (B,)
        bool (at least 8 weighted inliers and a non-degenerate fit).
    """
    if method not in ('lmeds', 'ransac'):
        raise ValueError(f"method must be 'lmeds' or 'ransac', got {method!r}")
    x1, x2, weights = sanitize_correspondences(x1, x2, weights)
    b, n = weights.shape
    h = num_hypotheses
    if n < 8:  # no minimal set exists: every problem is invalid
        f = torch.zeros((b, 3, 3), dtype=x1.dtype, device=x1.device)
        return f, torch.zeros_like(weights, dtype=torch.bool), \
            torch.zeros(b, dtype=torch.bool, device=x1.device)

    idx = _sample_minimal_sets(weights, h, generator)  # (B, H, 8)
    bidx = torch.arange(b, device=x1.device)[:, None, None]
    s1, s2 = x1[bidx, idx], x2[bidx, idx]  # (B, H, 8, 2)
    hyp, hyp_ok = fundamental_from_points(
        s1.flatten(0, 1), s2.flatten(0, 1), return_valid=True)
    if essential:
        hyp = project_to_essential(hyp)
    hyp, hyp_ok = hyp.view(b, h, 3, 3), hyp_ok.view(b, h)
    hyp_ok = hyp_ok & (weights[bidx, idx] > 0).all(-1)

    # Score on a subset of the weighted points.
    if n > score_points:
        sub = torch.multinomial((weights > 0).to(x1) + (weights.sum(
            -1, keepdim=True) <= 0), score_points, replacement=True,
                                generator=generator)
        bsub = torch.arange(b, device=x1.device)[:, None]
        t1, t2, tw = x1[bsub, sub], x2[bsub, sub], weights[bsub, sub]
    else:
        t1, t2, tw = x1, x2, weights
    err = sampson_error(hyp, t1[:, None], t2[:, None])  # (B, H, S)
    err = torch.where(torch.isfinite(err), err, torch.full_like(err, 1e300))
    if method == 'lmeds':
        score = weighted_median(err, tw[:, None])
    else:
        score = -(tw[:, None] * (err < threshold**2)).sum(-1)
    score = score.masked_fill(~hyp_ok, float('inf'))
    best = score.argmin(-1)
    f_best = hyp[torch.arange(b, device=x1.device), best]

    err_all = sampson_error(f_best, x1, x2)
    if method == 'lmeds':
        n_eff = (weights > 0).sum(-1).clamp_min(9).to(x1)
        med = score.gather(-1, best[:, None])[:, 0].clamp_min(0)
        sigma = _MAD_TO_SIGMA * (1 + 5 / (n_eff - 8)) * med.sqrt()
        thr = torch.maximum(2.5 * sigma,
                            torch.full_like(sigma, threshold))[:, None]
    else:
        thr = torch.full((b, 1), threshold, dtype=x1.dtype, device=x1.device)
    inliers = (err_all < thr**2) & (weights > 0)
    f, valid = refit_fundamental(x1, x2, weights * inliers, essential,
                                 refine_iters)
    err_all = sampson_error(f, x1, x2)
    inliers = (err_all < thr**2) & (weights > 0)
    valid = valid & (inliers.sum(-1) >= 8) & hyp_ok.any(-1)
    return f, inliers, valid
