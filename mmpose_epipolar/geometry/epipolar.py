"""Calibration-free multi-view triangulation from 2D keypoints:
``epipolar_triangulate``, the pseudo-label engine's top-level API.

Method, for V >= 2 views of F frames with J joints:

1. Undistort every keypoint with its view's intrinsics and lens model to
   normalised coordinates (``K^-1``). Confidence 0, NaN coordinates or a
   point outside the lens model's invertible region mean "missing".
2. For every pair (0, k), estimate the essential matrix from all
   correspondences with confidence weights: robust LMedS (batched
   hypotheses, :func:`robust_fundamental`) followed by a Sampson-reweighted
   8-point refit on the inliers, or the plain weighted 8-point algorithm.
   ``pooled=True`` fits ONE essential matrix per pair to the
   correspondences of all frames (static cameras); ``pooled=False`` fits
   one per frame (the paper's way; moving cameras).
3. Decompose each E into (R, t) with the cheirality test. A pair is invalid
   when E is degenerate (fewer than 8 weighted points, collinear or
   coincident points, identical views), too few points lie in front of both
   cameras, the median ray angle (parallax) is tiny, or the optical axes
   are nearly opposite.
4. Fix the scale: the baseline between views 0 and 1 is 1 (``|t_1| = 1``).
   For k >= 2 the unknown length of ``t_k`` is the median ratio of the
   view-0 depths of the joints triangulated by pair (0, 1) and by pair
   (0, k) (one ratio per pair when pooled, per frame otherwise).
5. Triangulate every joint from all views with a valid pose (weighted
   DLT; or, for two views, the optimal Hartley-Sturm correction).
6. Pooled mode: a view whose pair with view 0 failed gets its pose by
   resection (linear PnP) against the points of the other views; when
   pair (0, 1) itself fails, the first valid pair (0, k) is the reference
   and view 1 is resected. With more than two views all poses are then
   refined jointly by a bundle adjustment of the robust reprojection error
   (points eliminated by linear triangulation), which removes the
   disagreement of the independent pair estimates, and every joint is
   triangulated again.
"""
import math
from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from ._utils import ArrayLike, to_tensor
from .bundle_adjustment import bundle_adjust as refine_by_bundle_adjustment
from .distortion import undistort_points
from .essential import essential_from_points, recover_pose
from .resection import resect_dlt
from .robust import _refit, _weighted_median, robust_fundamental
from .triangulation import (
    projection_matrices,
    triangulate_dlt,
    triangulate_optimal_two_view,
)

_TRIANGULATION = ('linear', 'dlt', 'optimal')


def _prepare_inputs(keypoints: ArrayLike, intrinsics: ArrayLike,
                    distortion: Optional[ArrayLike],
                    min_confidence: float
                    ) -> Tuple[Tensor, Tensor, Tensor, Optional[Tensor]]:
    """Validate shapes; return pixels (F, V, J, 2), weights (F, V, J),
    K (V, 3, 3), distortion (V, 5) as float64 tensors."""
    device = keypoints.device if isinstance(keypoints, Tensor) else None
    kp = to_tensor(keypoints, device=device)
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise ValueError('keypoints must have shape (F, V, J, 3) (x, y, '
                         f'confidence), got {tuple(kp.shape)}')
    f, v, j, _ = kp.shape
    if v < 2:
        raise ValueError(f'epipolar_triangulate needs >= 2 views, got {v}')
    k = to_tensor(intrinsics, device=kp.device)
    if k.shape != (v, 3, 3):
        raise ValueError(f'intrinsics must have shape ({v}, 3, 3), got '
                         f'{tuple(k.shape)}')
    if not (torch.isfinite(k).all() and (k[:, 0, 0] > 0).all()
            and (k[:, 1, 1] > 0).all()):
        raise ValueError('intrinsics must be finite with positive focal '
                         'lengths')
    d = None
    if distortion is not None:
        d = to_tensor(distortion, device=kp.device)
        if d.shape != (v, 5):
            raise ValueError(f'distortion must have shape ({v}, 5) '
                             f'[k1, k2, p1, p2, k3], got {tuple(d.shape)}')
        if not torch.isfinite(d).all():
            raise ValueError('distortion coefficients must be finite')
    xy, conf = kp[..., :2], kp[..., 2]
    ok = torch.isfinite(xy).all(-1) & torch.isfinite(conf) & \
        (conf > min_confidence)
    weights = torch.where(ok, conf.clamp(max=1.0), torch.zeros_like(conf))
    return xy, weights, k, d


def _normalise(xy: Tensor, weights: Tensor, k: Tensor,
               d: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """Undistorted normalised coordinates (F, V, J, 2) (0 where missing)
    and weights zeroed where undistortion failed."""
    f, v, j, _ = xy.shape
    flat = xy.permute(1, 0, 2, 3).reshape(v, f * j, 2)
    flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
    xn = undistort_points(flat, k, d).reshape(v, f, j, 2).permute(1, 0, 2, 3)
    ok = torch.isfinite(xn).all(-1)
    weights = torch.where(ok, weights, torch.zeros_like(weights))
    xn = torch.where(ok[..., None], xn, torch.zeros_like(xn))
    return xn, weights


def _ray_sines(x1: Tensor, x2: Tensor, rotation: Tensor) -> Tensor:
    """|sin| of the angle between the rays of two views (in view 1's frame):
    (..., N, 2) x 2, R (..., 3, 3) -> (..., N)."""
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1)
    h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1)
    r2 = h2 @ rotation  # rows R^T h2
    cross = torch.cross(h1, r2, dim=-1).norm(dim=-1)
    return cross / (h1.norm(dim=-1) * r2.norm(dim=-1))


def _pair_poses(x1: Tensor, x2: Tensor, w: Tensor, robust: Optional[str],
                threshold: float, num_hypotheses: int, refine_iters: int,
                min_in_front: float, min_parallax: float,
                max_axis_angle: float,
                generator: Optional[torch.Generator]
                ) -> Tuple[Tensor, Tensor, Tensor]:
    """Relative pose of B view pairs from (B, N) correspondences.

    Returns:
        tuple: ``R`` (B, 3, 3), unit ``t`` (B, 3), ``valid`` (B,).
    """
    if robust is not None:
        e, inliers, valid = robust_fundamental(
            x1, x2, w, method=robust, threshold=threshold,
            num_hypotheses=num_hypotheses, refine_iters=refine_iters,
            essential=True, generator=generator)
        w = w * inliers
    elif refine_iters > 0:
        e, valid = _refit(x1, x2, w, True, refine_iters)
    else:
        e, valid = essential_from_points(x1, x2, w, return_valid=True)
    rot, trans, in_front = recover_pose(e, x1, x2, w)
    parallax = _weighted_median(_ray_sines(x1, x2, rot), w, 16384)
    valid = valid & (in_front >= min_in_front) & \
        (parallax >= math.sin(math.radians(min_parallax))) & \
        (rot[:, 2, 2] > math.cos(math.radians(max_axis_angle))) & \
        torch.isfinite(rot).flatten(1).all(-1) & \
        torch.isfinite(trans).all(-1)
    return rot, trans, valid


def _resect_missing_views(xn: Tensor, weights: Tensor, points: Tensor,
                          valid: Tensor, rot: Tensor, trans: Tensor,
                          pvalid: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Pooled mode: the pose of each view whose pair with view 0 failed,
    by resection against the points the other views triangulated.

    Args:
        xn (Tensor): (F, V, J, 2). weights (Tensor): (F, V, J).
        points (Tensor): (F, J, 3). valid (Tensor): (F, J).
        rot (Tensor): (1, V, 3, 3). trans (Tensor): (1, V, 3).
        pvalid (Tensor): (1, V).

    Returns:
        tuple: Updated ``rot``, ``trans`` and ``pvalid``.
    """
    missing = torch.nonzero(~pvalid[0]).flatten()
    num = len(missing)
    pts = points.reshape(1, -1, 3).expand(num, -1, -1)
    obs = xn[:, missing].permute(1, 0, 2, 3).reshape(num, -1, 2)
    w = (weights[:, missing] * valid[:, None].to(weights)).permute(
        1, 0, 2).reshape(num, -1)
    r, t, ok = resect_dlt(pts, obs, w)
    rot, trans, pvalid = rot.clone(), trans.clone(), pvalid.clone()
    rot[0, missing] = torch.where(ok[:, None, None], r, rot[0, missing])
    trans[0, missing] = torch.where(ok[:, None], t, trans[0, missing])
    pvalid[0, missing] = ok
    return rot, trans, pvalid


def _view0_depths(xn: Tensor, w: Tensor, rot: Tensor,
                  trans: Tensor) -> Tensor:
    """View-0 depths of two-view triangulations, NaN where invalid.

    Args:
        xn (Tensor): (F, 2, J, 2) normalised points of views 0 and k.
        w (Tensor): (F, 2, J).
        rot (Tensor): (P, 3, 3), P = 1 or F. trans (Tensor): (P, 3).

    Returns:
        Tensor: (F, J).
    """
    eye = torch.eye(3, dtype=xn.dtype, device=xn.device).expand_as(rot)
    proj = torch.stack([projection_matrices(eye, torch.zeros_like(trans)),
                        projection_matrices(rot, trans)], 1)
    x, ok = triangulate_dlt(xn, proj.expand(xn.shape[0], -1, -1, -1), w,
                            solver='linear')
    return torch.where(ok, x[..., 2], torch.full_like(x[..., 2], math.nan))



def epipolar_triangulate(
    keypoints: ArrayLike,
    intrinsics: ArrayLike,
    distortion: Optional[ArrayLike] = None,
    pooled: bool = True,
    *,
    robust: Optional[str] = 'auto',
    triangulation: str = 'linear',
    threshold_px: float = 3.0,
    num_hypotheses: int = 256,
    refine_iters: int = 2,
    bundle_adjust: Optional[bool] = None,
    bundle_adjust_iters: int = 100,
    min_confidence: float = 0.0,
    min_in_front: float = 0.75,
    min_parallax_deg: float = 1.0,
    min_ray_angle_deg: float = 1.0,
    max_axis_angle_deg: float = 165.0,
    chunk_size: int = 65536,
    seed: Optional[int] = 0,
    return_poses: bool = False,
    reference_swap: bool = True,
) -> Union[Tuple[ArrayLike, ArrayLike], Tuple[ArrayLike, ArrayLike, Dict]]:
    """Triangulate 2D keypoints of V >= 2 uncalibrated-extrinsics views.

    See the module docstring for the method. Degenerate input never
    raises: it gives ``valid == False``. Points are 0 wherever not valid
    and never NaN/inf where valid.

    Args:
        keypoints (Tensor | np.ndarray): (F, V, J, 3) pixel x, pixel y,
            confidence in [0, 1]. Confidence <= ``min_confidence``, or NaN
            coordinates, mean missing.
        intrinsics (Tensor | np.ndarray): ``K`` per view, (V, 3, 3).
        distortion (Tensor | np.ndarray, optional): (V, 5) OpenCV order
            ``[k1, k2, p1, p2, k3]``.
        pooled (bool): One relative pose per view pair estimated from all
            F frames (static cameras), else one per frame.
        robust (str, optional): ``'lmeds'``, ``'ransac'``, None (plain
            weighted 8-point) or ``'auto'`` (LMedS when pooled, None per
            frame, where 17 joints leave little to vote with).
        triangulation (str): ``'linear'`` (weighted DLT, closed form,
            default), ``'dlt'`` (homogeneous DLT by SVD) or ``'optimal'``
            (two views only: Hartley-Sturm polynomial correction in pixels,
            then intersection; falls back to ``'linear'`` for V > 2).
        threshold_px (float): Inlier threshold (pixels) for RANSAC; the
            floor of LMedS's adaptive threshold.
        num_hypotheses (int): Robust minimal sets per pair (and frame).
        refine_iters (int): Sampson reweighting steps of the final
            8-point fit (IRLS towards the geometric error). One step halves
            the per-frame PA-MPJPE on 17 joints with 1 px noise (40 -> 23
            mm on Human3.6M) and cuts its reprojection error 7-fold.
        min_confidence (float): See ``keypoints``.
        min_in_front (float): Least weighted fraction of correspondences in
            front of both cameras for a valid pair.
        min_parallax_deg (float): Least median angle between the two rays of
            a pair's correspondences (identical views have none).
        min_ray_angle_deg (float): A joint is valid only if some two of its
            views' rays meet at an angle in [this, 180 - this] degrees.
        max_axis_angle_deg (float): Pairs whose optical axes are farther
            apart than this (nearly opposite cameras) are invalid. Real
            Human3.6M pairs reach 155.5 degrees.
        chunk_size (int): Frames per batch in per-frame mode (memory).
        seed (int, optional): Seed of the robust sampling (reproducible
            output); None uses the global generator.
        bundle_adjust (bool, optional): Refine all relative poses and
            linear triangulations jointly by minimising the robust (Huber
            at ``threshold_px``) reprojection error of every view
            (:func:`bundle_adjust`). None (default) refines in pooled mode
            with more than two views, where the pairwise estimates disagree:
            there it brings noisy 2D close to calibrated triangulation (for
            two views the pooled pair pose is already within 1% of it).
        bundle_adjust_iters (int): L-BFGS iterations of the refinement.
        return_poses (bool): Also return the relative poses.
        reference_swap (bool): Pooled mode with V > 2: when pair (0, 1)
            fails, solve once more with the first valid pair (0, k) as the
            reference (view 1 is then resected). False disables the retry
            (it is how the retry itself runs).

    Returns:
        tuple: ``points`` (F, J, 3) in view 0's camera frame with the
        baseline between views 0 and 1 of length 1, ``valid`` (F, J) bool;
        the same array type as ``keypoints`` (float tensors keep their
        dtype and device, otherwise float64). With ``return_poses`` also a
        dict with ``rotation`` (P, V, 3, 3) and ``translation`` (P, V, 3)
        (``X_v = R_v X_0 + t_v``, view 0 the identity), ``valid`` (P, V)
        bool, where P = 1 when pooled and F otherwise.
    """
    options = dict(
        robust=robust, triangulation=triangulation, threshold_px=threshold_px,
        num_hypotheses=num_hypotheses, refine_iters=refine_iters,
        bundle_adjust=bundle_adjust,
        bundle_adjust_iters=bundle_adjust_iters,
        min_confidence=min_confidence, min_in_front=min_in_front,
        min_parallax_deg=min_parallax_deg,
        min_ray_angle_deg=min_ray_angle_deg,
        max_axis_angle_deg=max_axis_angle_deg, chunk_size=chunk_size,
        seed=seed)
    if triangulation not in _TRIANGULATION:
        raise ValueError(f'triangulation must be one of {_TRIANGULATION}, '
                         f'got {triangulation!r}')
    if robust == 'auto':
        robust = 'lmeds' if pooled else None
    if robust not in (None, 'lmeds', 'ransac'):
        raise ValueError("robust must be 'auto', 'lmeds', 'ransac' or None, "
                         f'got {robust!r}')
    xy, weights, k, d = _prepare_inputs(keypoints, intrinsics, distortion,
                                        min_confidence)
    nf, nv, nj, _ = xy.shape
    xn, weights = _normalise(xy, weights, k, d)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=xn.device).manual_seed(seed)
    threshold = threshold_px / float(k[:, :2].diagonal(dim1=-2,
                                                        dim2=-1).mean())
    pair_args = (robust, threshold, num_hypotheses, refine_iters,
                 min_in_front, min_parallax_deg, max_axis_angle_deg,
                 generator)

    # Relative poses of pairs (0, k): (P, V - 1, ...)
    if pooled:
        x1 = xn[:, 0].reshape(1, nf * nj, 2).expand(nv - 1, -1, -1)
        x2 = xn[:, 1:].permute(1, 0, 2, 3).reshape(nv - 1, nf * nj, 2)
        w = (weights[:, :1] * weights[:, 1:]).permute(1, 0, 2).reshape(
            nv - 1, nf * nj)
        rot, trans, pvalid = _pair_poses(x1, x2, w, *pair_args)
        rot, trans, pvalid = rot[None], trans[None], pvalid[None]
    else:
        x1 = xn[:, :1].expand(-1, nv - 1, -1, -1).reshape(-1, nj, 2)
        x2 = xn[:, 1:].reshape(-1, nj, 2)
        w = (weights[:, :1] * weights[:, 1:]).reshape(-1, nj)
        outs = [
            _pair_poses(x1[s:s + chunk_size], x2[s:s + chunk_size],
                        w[s:s + chunk_size], *pair_args)
            for s in range(0, x1.shape[0], chunk_size)
        ]
        rot = torch.cat([o[0] for o in outs]).view(nf, nv - 1, 3, 3)
        trans = torch.cat([o[1] for o in outs]).view(nf, nv - 1, 3)
        pvalid = torch.cat([o[2] for o in outs]).view(nf, nv - 1)

    if pooled and nv > 2 and reference_swap and not bool(pvalid[0, 0]) \
            and bool(pvalid.any()):
        reference = int(torch.nonzero(pvalid[0])[0]) + 1
        return _as_input_type(
            _with_view_as_second(xy, weights, k, d, reference, options,
                                 return_poses), keypoints)

    # Scale of t_k (k >= 2) from the depths shared with pair (0, 1).
    if nv > 2:
        z01 = _view0_depths(xn[:, :2], weights[:, :2] * pvalid[:, 0, None,
                                                              None],
                            rot[:, 0], trans[:, 0])
        scales = [torch.ones_like(trans[:, 0, 0])]
        for kk in range(1, nv - 1):
            sel = [0, kk + 1]
            z0k = _view0_depths(xn[:, sel], weights[:, sel] *
                                pvalid[:, kk, None, None], rot[:, kk],
                                trans[:, kk])
            ratio = z01 / z0k
            ratio = ratio.reshape(1, -1) if pooled else ratio
            ok = torch.isfinite(ratio) & (ratio > 0)
            s = torch.where(
                ok.sum(-1) >= 2,
                _weighted_median(torch.where(ok, ratio, 0.0), ok.to(ratio)),
                torch.full_like(ratio[:, 0], math.nan))
            scales.append(s)
        scale = torch.stack(scales, -1)  # (P, V - 1)
        pvalid = pvalid & torch.isfinite(scale) & (scale > 0)
        trans = trans * torch.nan_to_num(scale, nan=0.0)[..., None]
    pvalid = pvalid & pvalid[:, :1]  # no scale without pair (0, 1)

    eye = torch.eye(3, dtype=xn.dtype, device=xn.device)
    rot = torch.cat([eye.expand(rot.shape[0], 1, 3, 3), rot], 1)
    trans = torch.cat([torch.zeros_like(trans[:, :1]), trans], 1)
    pvalid = torch.cat([pvalid[:, :1], pvalid], 1)  # view 0 with pair (0, 1)
    view_w = weights * pvalid[:, :, None].to(weights)  # (F, V, J)

    def triangulate(rot, trans, view_w):
        proj = projection_matrices(rot, trans).expand(nf, -1, -1, -1)
        if triangulation == 'optimal' and nv == 2:
            kk_ = k[None].expand(rot.shape[0], -1, -1, -1)
            return triangulate_optimal_two_view(
                xn[:, 0], xn[:, 1],
                rot[:, 1].expand(nf, -1, -1), trans[:, 1].expand(nf, -1),
                kk_[:, 0].expand(nf, -1, -1), kk_[:, 1].expand(nf, -1, -1),
                view_w)
        return triangulate_dlt(xn, proj, view_w,
                               solver='svd' if triangulation == 'dlt'
                               else 'linear')

    points, valid = triangulate(rot, trans, view_w)
    if pooled and nv > 2 and bool(pvalid[0, 1]) and not bool(pvalid.all()):
        rot, trans, pvalid = _resect_missing_views(xn, weights, points, valid,
                                                   rot, trans, pvalid)
        view_w = weights * pvalid[:, :, None].to(weights)
        points, valid = triangulate(rot, trans, view_w)
    if (pooled and nv > 2) if bundle_adjust is None else bundle_adjust:
        pose_index = torch.zeros(nf, dtype=torch.long, device=xn.device) \
            if pooled else torch.arange(nf, device=xn.device)
        rot, trans = refine_by_bundle_adjustment(
            xn, view_w * valid[:, None].to(view_w), rot, trans, pose_index,
            float(k[:, :2].diagonal(dim1=-2, dim2=-1).mean()), threshold_px,
            bundle_adjust_iters)
        points, valid = triangulate(rot, trans, view_w)
    # Conditioning: some two rays must meet at a usable angle.
    rays = torch.cat([xn, torch.ones_like(xn[..., :1])], -1) @ \
        rot.expand(nf, -1, -1, -1)  # (F, V, J, 3): R_v^T h in view 0
    rays = rays / rays.norm(dim=-1, keepdim=True)
    best = torch.zeros_like(weights[:, 0])
    for a in range(nv):
        for b in range(a + 1, nv):
            sin = torch.cross(rays[:, a], rays[:, b], dim=-1).norm(dim=-1)
            use = (view_w[:, a] > 0) & (view_w[:, b] > 0)
            best = torch.maximum(best, torch.where(use, sin, 0.0))
    valid = valid & (best >= math.sin(math.radians(min_ray_angle_deg)))
    valid = valid & torch.isfinite(points).all(-1) & \
        (points.norm(dim=-1) < 1e6)
    points = torch.where(valid[..., None], points, torch.zeros_like(points))

    outputs = [points, valid]
    if return_poses:
        outputs.append(dict(rotation=rot, translation=trans, valid=pvalid))
    return _as_input_type(outputs, keypoints)


def _with_view_as_second(xy: Tensor, weights: Tensor, k: Tensor,
                         d: Optional[Tensor], reference: int, options: Dict,
                         return_poses: bool) -> Tuple:
    """Pooled mode when pair (0, 1) fails but pair (0, ``reference``)
    holds: solve with the two views swapped (the reference pair fixes the
    scale, view 1 is resected), then swap back and rescale to the
    ``|t_1| = 1`` gauge. View 1 unposed leaves every point invalid."""
    order = list(range(xy.shape[1]))
    order[1], order[reference] = reference, 1
    keypoints = torch.cat([xy, weights[..., None]], -1)[:, order]
    points, valid, poses = epipolar_triangulate(
        keypoints, k[order], None if d is None else d[order], True,
        return_poses=True, reference_swap=False,
        **dict(options, min_confidence=0.0))
    rot, trans, pvalid = (poses['rotation'][:, order],
                          poses['translation'][:, order],
                          poses['valid'][:, order])
    baseline = trans[0, 1].norm()
    ok = bool(pvalid[0, 1]) and bool(torch.isfinite(baseline)) and \
        float(baseline) > 0
    scale = baseline if ok else torch.ones_like(baseline)
    points, trans = points / scale, trans / scale
    valid = valid & ok
    points = torch.where(valid[..., None], points, torch.zeros_like(points))
    outputs = [points, valid]
    if return_poses:
        outputs.append(dict(rotation=rot, translation=trans,
                            valid=pvalid & ok))
    return outputs


def _as_input_type(outputs, like):
    """Convert tensors back to numpy or to the input's float dtype."""
    def conv(x):
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(like, Tensor):
            if x.is_floating_point() and like.is_floating_point():
                return x.to(like.dtype)
            return x
        return x.cpu().numpy()

    return tuple(conv(o) for o in outputs)
