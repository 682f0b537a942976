"""Joint refinement of relative poses and points (bundle adjustment).

The pairwise estimates of :func:`epipolar_triangulate` solve each camera
pair on its own (one essential matrix per pair), so with more than two
views, or with noisy detections, the views disagree slightly. Minimising
the confidence-weighted, robust reprojection error of all views and frames
at once over the relative poses and the points (the maximum-likelihood
estimate under Gaussian pixel noise) removes that disagreement.
"""
from typing import Optional, Tuple

import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix
from torch import Tensor


def _huber(residual: Tensor, delta: float) -> Tensor:
    norm = residual.norm(dim=-1)
    return torch.where(norm <= delta, 0.5 * norm.square(),
                       delta * (norm - 0.5 * delta))


def reprojection_residuals(points: Tensor, rotations: Tensor,
                           translations: Tensor, observed: Tensor,
                           pose_index: Tensor) -> Tensor:
    """Normalised-image residuals of points seen by posed views.

    Args:
        points (Tensor): Points in view 0's frame (F, J, 3).
        rotations (Tensor): ``R_v`` (P, V, 3, 3) with ``X_v = R_v X + t_v``.
        translations (Tensor): ``t_v`` (P, V, 3).
        observed (Tensor): Undistorted normalised observations (F, V, J, 2).
        pose_index (Tensor): Pose set of each frame (F,), long.

    Returns:
        Tensor: Residuals (F, V, J, 2).
    """
    rot = rotations[pose_index]  # (F, V, 3, 3)
    trans = translations[pose_index]  # (F, V, 3)
    cam = torch.einsum('fvab,fjb->fvja', rot, points) + trans[:, :, None]
    depth = cam[..., 2:].clamp(min=1e-6)
    return cam[..., :2] / depth - observed


def _subset(num_frames: int, max_frames: int, device) -> Tensor:
    """Evenly spread frame indices, at most ``max_frames`` of them."""
    if num_frames <= max_frames:
        return torch.arange(num_frames, device=device)
    return torch.linspace(0, num_frames - 1, max_frames,
                          device=device).round().long()


def bundle_adjust(observed: Tensor,
                  weights: Tensor,
                  rotations: Tensor,
                  translations: Tensor,
                  pose_index: Tensor,
                  focal: float,
                  huber_px: float = 3.0,
                  max_iter: int = 100,
                  max_frames: int = 128,
                  gauge: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Refine the relative poses by robust reprojection error.

    A bundle adjustment with the points eliminated: for given poses the
    points are their weighted linear triangulation, so only the poses
    (6 parameters per view) are optimised, on at most ``max_frames``
    frames per pose set (static cameras are pinned down by a few hundred
    frames; the caller triangulates every frame with the result). View 0
    stays the reference frame and the baseline between view 0 and view
    ``gauge`` keeps length 1 (the gauge of :func:`epipolar_triangulate`).
    The cost is ``sum w * huber(f * r)`` over every observation, ``r`` the
    normalised
    reprojection residual and ``f`` the mean focal length, so the Huber
    threshold is in pixels. Solved with L-BFGS (strong Wolfe line search)
    in float64.

    Args:
        observed (Tensor): Undistorted normalised 2D (F, V, J, 2).
        weights (Tensor): Confidences (F, V, J); 0 ignores an observation.
        rotations (Tensor): Initial ``R_v`` (P, V, 3, 3), view 0 identity.
        translations (Tensor): Initial ``t_v`` (P, V, 3).
        pose_index (Tensor): Pose set (0..P-1) of each frame (F,).
        focal (float): Mean focal length in pixels (residual scale).
        huber_px (float): Huber threshold in pixels.
        max_iter (int): L-BFGS iterations.
        max_frames (int): Frames used per pose set (evenly spread).
        gauge (Tensor, optional): (P,) long, the view of each pose set
            whose translation keeps unit length; None means view 1.

    Returns:
        tuple: Refined ``rotations`` (P, V, 3, 3) and ``translations``
        (P, V, 3), same dtype as the inputs.
    """
    from .triangulation import projection_matrices, triangulate_dlt

    dtype = observed.dtype
    if rotations.shape[1] < 2:
        return rotations, translations
    keep = torch.cat([
        torch.nonzero(pose_index == p).flatten()[_subset(
            int((pose_index == p).sum()), max_frames, observed.device)]
        for p in range(rotations.shape[0])
    ])
    obs = observed[keep].double()
    w = weights[keep].double()
    w = torch.where(torch.isfinite(obs).all(-1), w, 0.0)
    obs = torch.nan_to_num(obs)
    index = pose_index[keep]
    if w.sum() <= 0:
        return rotations, translations
    sets = torch.arange(rotations.shape[0], device=obs.device)
    if gauge is None:
        gauge = torch.ones_like(sets)

    base_rot = rotations.double()
    delta = torch.zeros(*rotations.shape[:2], 3, dtype=torch.float64,
                        device=obs.device, requires_grad=True)
    trans = translations.double().clone().requires_grad_(True)
    reference = torch.zeros(rotations.shape[1], dtype=torch.bool,
                            device=obs.device)
    reference[0] = True
    eye = torch.eye(3, dtype=torch.float64, device=obs.device)

    def current():
        update = axis_angle_to_rotation_matrix(delta.reshape(-1, 3)).view(
            *delta.shape[:2], 3, 3)
        update = torch.where(reference[None, :, None, None], eye, update)
        t = torch.where(reference[None, :, None], 0.0, trans)
        return update @ base_rot, t

    optimizer = torch.optim.LBFGS([delta, trans],
                                  max_iter=max_iter,
                                  line_search_fn='strong_wolfe',
                                  tolerance_grad=1e-12,
                                  tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        rot, t = current()
        proj = projection_matrices(rot, t)[index]
        points, ok = triangulate_dlt(obs, proj, w, solver='linear')
        res = reprojection_residuals(points, rot, t, obs, index) * focal
        used = w * ok[:, None].double()
        cost = (used * _huber(res, huber_px)).sum() / used.sum().clamp(
            min=1.0)
        unit = (t[sets, gauge].norm(dim=-1) - 1.0).square().sum()
        loss = cost + 1e3 * unit
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        rot, t = current()
        scale = t[sets, gauge].norm(dim=-1)
        scale = torch.where(torch.isfinite(scale) & (scale > 0), scale, 1.0)
        t = t / scale[:, None, None]
    return rot.to(dtype), t.to(dtype)
