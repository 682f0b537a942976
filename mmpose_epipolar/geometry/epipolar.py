"""Calibration-free multi-view triangulation from 2D keypoints:
:func:`epipolar_triangulate`, the pseudo-label engine's top-level API.

The engine is a pipeline of pure stages over V >= 2 views of F frames with
J joints (``pooled``: one static rig for all frames; otherwise one rig per
frame, the paper's way, for moving cameras):

1. :func:`normalise`: undistort every keypoint with its view's intrinsics
   and lens model (``K^-1``). Confidence at most ``min_confidence``, NaN
   coordinates or a point outside the lens model's invertible region mean
   "missing".
2. :func:`estimate_pair_poses`: for every pair (0, k), an essential matrix
   from all correspondences with confidence weights (robust LMedS/RANSAC
   then a Sampson-reweighted 8-point refit, or the plain weighted 8-point
   algorithm), decomposed into (R, t) with the cheirality test. A pair is
   invalid when E is degenerate (fewer than 8 weighted points, collinear or
   coincident points, identical views), too few points lie in front of
   both cameras, the median ray angle (parallax) is tiny, or the optical
   axes are nearly opposite.
3. :func:`choose_reference_pair`: the valid pair (0, r) that fixes scale
   and gauge, chosen up front (the best-conditioned by default).
4. :func:`fix_scale`: ``|t_r| = 1``; the length of every other ``t_k`` is
   the median ratio of the view-0 depths of the joints triangulated by pair
   (0, r) and by pair (0, k).
5. :func:`triangulate_rig`: every joint from all posed views (weighted DLT;
   for two views optionally the optimal Hartley-Sturm correction).
6. :func:`resect_failed_views` (pooled, V > 2): a view whose pair with
   view 0 failed gets its pose by resection (linear PnP) against the
   points of the other views.
7. :func:`bundle_adjust_rig` (pooled, V > 2 by default): all poses refined
   jointly by the robust reprojection error, which removes the
   disagreement of the independent pair estimates.
8. :func:`condition`: a joint is kept only where two of its rays meet at a
   usable angle and the point is finite and not absurdly far.

Degenerate input never raises; it gives ``valid == False``.
"""
import math
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from ._utils import ArrayLike, as_input_type, to_tensor
from .bundle_adjustment import bundle_adjust
from .distortion import undistort_points
from .essential import essential_from_points, recover_pose
from .options import EpipolarOptions, ValidityOptions
from .resection import resect_dlt
from .rig import PairPoses, Rig, Views
from .robust import refit_fundamental, robust_fundamental, weighted_median
from .triangulation import (
    projection_matrices,
    triangulate_dlt,
    triangulate_optimal_two_view,
    triangulate_robust,
)


def epipolar_triangulate(
    keypoints: ArrayLike,
    intrinsics: ArrayLike,
    distortion: Optional[ArrayLike] = None,
    pooled: bool = True,
    *,
    options: Optional[EpipolarOptions] = None,
    return_poses: bool = False,
    **overrides: Any,
) -> Union[Tuple[ArrayLike, ArrayLike], Tuple[ArrayLike, ArrayLike, Dict]]:
    """Triangulate 2D keypoints of V >= 2 views without extrinsics.

    See the module docstring for the stages. Points are 0 wherever not
    valid and never NaN/inf where valid.

    Args:
        keypoints (Tensor | np.ndarray): (F, V, J, 3) pixel x, pixel y,
            confidence in [0, 1].
        intrinsics (Tensor | np.ndarray): ``K`` per view, (V, 3, 3).
        distortion (Tensor | np.ndarray, optional): (V, 5) OpenCV order
            ``[k1, k2, p1, p2, k3]``.
        pooled (bool): One relative pose per view pair estimated from all
            F frames (static cameras), else one per frame.
        options (EpipolarOptions, optional): The engine's options; defaults
            when None.
        return_poses (bool): Also return the rig.
        **overrides: Options by their flat names (``threshold_px=2.0``,
            ``robust='ransac'``, ``bundle_adjust=False``, ...), applied on
            top of ``options`` (see :meth:`EpipolarOptions.replace`).

    Returns:
        tuple: ``points`` (F, J, 3) in view 0's camera frame, in the gauge
        where the baseline from view 0 to view ``gauge`` has length 1;
        ``valid`` (F, J) bool; the same array type as ``keypoints`` (float
        tensors keep their dtype and device, otherwise float64). With
        ``return_poses`` also the rig as a dict: ``rotation`` (P, V, 3, 3),
        ``translation`` (P, V, 3) (``X_v = R_v X_0 + t_v``, view 0 the
        identity), ``valid`` (P, V) bool and ``gauge`` (P,), where P = 1
        when pooled and F otherwise.
    """
    options = (options or EpipolarOptions()).replace(**overrides)
    views = normalise(keypoints, intrinsics, distortion,
                      options.validity.min_confidence)
    if views.num_frames == 0 or views.num_joints == 0:
        points, valid, rig = _empty_result(views, pooled)
    else:
        points, valid, rig = solve_rig(views, pooled, options)
    outputs = [points, valid]
    if return_poses:
        outputs.append(rig.as_dict())
    return as_input_type(outputs, keypoints)


def solve_rig(views: Views, pooled: bool,
              options: EpipolarOptions) -> Tuple[Tensor, Tensor, Rig]:
    """Stages 2-8 on normalised views.

    Returns:
        tuple: ``points`` (F, J, 3), ``valid`` (F, J) bool and the rig.
    """
    generator = None
    if options.seed is not None:
        generator = torch.Generator(
            device=views.points.device).manual_seed(options.seed)
    pairs = estimate_pair_poses(views, pooled, options, generator)
    reference = choose_reference_pair(pairs, options.reference)
    rig = fix_scale(views, pairs, reference)
    method = options.refinement.triangulation
    robust_px = options.robust.threshold_px \
        if options.refinement.robust_triangulation else None
    points, valid = triangulate_rig(views, rig, method, robust_px)
    if pooled and views.num_views > 2 and bool(rig.valid[0, 0]) \
            and not bool(rig.valid.all()):
        rig = resect_failed_views(views, rig, points, valid)
        points, valid = triangulate_rig(views, rig, method, robust_px)
    if options.refinement.bundle_adjusts(pooled, views.num_views):
        rig = bundle_adjust_rig(views, rig, valid, options)
        points, valid = triangulate_rig(views, rig, method, robust_px)
    return (*condition(views, rig, points, valid, options.validity), rig)


# Stage 1 ------------------------------------------------------------------


def normalise(keypoints: ArrayLike, intrinsics: ArrayLike,
              distortion: Optional[ArrayLike],
              min_confidence: float = 0.0) -> Views:
    """Validate the inputs and undistort them to normalised coordinates.

    Args:
        keypoints (Tensor | np.ndarray): (F, V, J, 3).
        intrinsics (Tensor | np.ndarray): (V, 3, 3), finite, positive
            focal lengths.
        distortion (Tensor | np.ndarray, optional): (V, 5).
        min_confidence (float): Confidence at most this means missing.

    Returns:
        Views: float64 tensors on the keypoints' device.

    Raises:
        ValueError: For wrong shapes, fewer than two views or unusable
            intrinsics (bad arguments, not degenerate geometry).
    """
    device = keypoints.device if isinstance(keypoints, Tensor) else None
    kp = to_tensor(keypoints, device=device)
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise ValueError('keypoints must have shape (F, V, J, 3) (x, y, '
                         f'confidence), got {tuple(kp.shape)}')
    nf, nv, nj, _ = kp.shape
    if nv < 2:
        raise ValueError(f'epipolar_triangulate needs >= 2 views, got {nv}')
    k = to_tensor(intrinsics, device=kp.device)
    if k.shape != (nv, 3, 3):
        raise ValueError(f'intrinsics must have shape ({nv}, 3, 3), got '
                         f'{tuple(k.shape)}')
    if not (torch.isfinite(k).all() and (k[:, 0, 0] > 0).all()
            and (k[:, 1, 1] > 0).all()):
        raise ValueError('intrinsics must be finite with positive focal '
                         'lengths')
    d = None
    if distortion is not None:
        d = to_tensor(distortion, device=kp.device)
        if d.shape != (nv, 5):
            raise ValueError(f'distortion must have shape ({nv}, 5) '
                             f'[k1, k2, p1, p2, k3], got {tuple(d.shape)}')
        if not torch.isfinite(d).all():
            raise ValueError('distortion coefficients must be finite')
    xy, conf = kp[..., :2], kp[..., 2]
    ok = torch.isfinite(xy).all(-1) & torch.isfinite(conf) & \
        (conf > min_confidence)
    weights = torch.where(ok, conf.clamp(max=1.0), torch.zeros_like(conf))

    flat = xy.permute(1, 0, 2, 3).reshape(nv, nf * nj, 2)
    flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
    xn = undistort_points(flat, k, d).reshape(nv, nf, nj,
                                              2).permute(1, 0, 2, 3)
    ok = torch.isfinite(xn).all(-1)
    weights = torch.where(ok, weights, torch.zeros_like(weights))
    xn = torch.where(ok[..., None], xn, torch.zeros_like(xn))
    return Views(points=xn, weights=weights, intrinsics=k)


# Stage 2 ------------------------------------------------------------------


def estimate_pair_poses(views: Views, pooled: bool, options: EpipolarOptions,
                        generator: Optional[torch.Generator] = None
                        ) -> PairPoses:
    """Relative poses of the pairs (0, k), one per rig.

    Returns:
        PairPoses: P = 1 when pooled, F otherwise.
    """
    xn, weights = views.points, views.weights
    nf, nv, nj = views.num_frames, views.num_views, views.num_joints
    estimate = _pair_pose_estimator(views, pooled, options, generator)
    if pooled:
        x1 = xn[:, 0].reshape(1, nf * nj, 2).expand(nv - 1, -1, -1)
        x2 = xn[:, 1:].permute(1, 0, 2, 3).reshape(nv - 1, nf * nj, 2)
        w = (weights[:, :1] * weights[:, 1:]).permute(1, 0, 2).reshape(
            nv - 1, nf * nj)
        return PairPoses(*(x[None] for x in estimate(x1, x2, w)))
    x1 = xn[:, :1].expand(-1, nv - 1, -1, -1).reshape(-1, nj, 2)
    x2 = xn[:, 1:].reshape(-1, nj, 2)
    w = (weights[:, :1] * weights[:, 1:]).reshape(-1, nj)
    size = options.chunk_size
    chunks = [
        estimate(x1[s:s + size], x2[s:s + size], w[s:s + size])
        for s in range(0, x1.shape[0], size)
    ]
    rot, trans, valid, quality = (torch.cat(parts) for parts in zip(*chunks))
    return PairPoses(rot.view(nf, nv - 1, 3, 3), trans.view(nf, nv - 1, 3),
                     valid.view(nf, nv - 1), quality.view(nf, nv - 1))


def _pair_pose_estimator(views: Views, pooled: bool,
                         options: EpipolarOptions,
                         generator: Optional[torch.Generator]):
    """``estimate(x1, x2, w) -> (R, t, valid, quality)`` for B pairs of
    (B, N) correspondences, bound to the options."""
    robust = options.robust
    method = robust.method_for(pooled)
    threshold = robust.threshold_px / views.focal
    validity = options.validity

    def estimate(x1: Tensor, x2: Tensor, w: Tensor):
        if method is not None:
            e, inliers, valid = robust_fundamental(
                x1, x2, w, method=method, threshold=threshold,
                num_hypotheses=robust.num_hypotheses,
                refine_iters=robust.refine_iters, essential=True,
                generator=generator)
            w = w * inliers
        elif robust.refine_iters > 0:
            e, valid = refit_fundamental(x1, x2, w, True,
                                         robust.refine_iters)
        else:
            e, valid = essential_from_points(x1, x2, w, return_valid=True)
        rot, trans, in_front = recover_pose(e, x1, x2, w)
        parallax = weighted_median(ray_sines(x1, x2, rot), w, 16384)
        valid = valid & (in_front >= validity.min_in_front) & \
            (parallax >= math.sin(math.radians(validity.min_parallax_deg))) \
            & (rot[:, 2, 2] > math.cos(
                math.radians(validity.max_axis_angle_deg))) & \
            torch.isfinite(rot).flatten(1).all(-1) & \
            torch.isfinite(trans).all(-1)
        quality = torch.where(valid, in_front * w.sum(-1) * parallax,
                              torch.zeros_like(parallax))
        return rot, trans, valid, quality

    return estimate


def ray_sines(x1: Tensor, x2: Tensor, rotation: Tensor) -> Tensor:
    """|sin| of the angle between the rays of two views (in view 1's frame).

    Args:
        x1 (Tensor): Normalised points of view 1, (..., N, 2).
        x2 (Tensor): Normalised points of view 2, (..., N, 2).
        rotation (Tensor): ``R`` (..., 3, 3), ``X_2 = R X_1 + t``.

    Returns:
        Tensor: (..., N).
    """
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1)
    h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1)
    r2 = h2 @ rotation  # rows R^T h2
    cross = torch.cross(h1, r2, dim=-1).norm(dim=-1)
    return cross / (h1.norm(dim=-1) * r2.norm(dim=-1))


# Stage 3 ------------------------------------------------------------------


def choose_reference_pair(pairs: PairPoses, rule: str = 'best') -> Tensor:
    """The pair (0, r) that fixes scale and gauge, per rig.

    Args:
        pairs (PairPoses): P rigs of V - 1 pairs.
        rule (str): ``'best'``: the valid pair of highest quality;
            ``'first'``: the valid pair of lowest k. Rigs without a valid
            pair get pair index 0 (and stay invalid).

    Returns:
        Tensor: Pair indices (P,) long, r - 1 in 0 .. V - 2.
    """
    if rule == 'best':
        score = torch.where(pairs.valid, pairs.quality,
                            torch.full_like(pairs.quality, -1.0))
        return score.argmax(-1)
    # argmax returns the first maximum: the first valid pair.
    return pairs.valid.to(torch.uint8).argmax(-1)


# Stage 4 ------------------------------------------------------------------


def fix_scale(views: Views, pairs: PairPoses, reference: Tensor) -> Rig:
    """Put the pairs' unit translations into one gauge, ``|t_r| = 1``.

    The length of ``t_k`` is the median ratio of the view-0 depths of the
    joints triangulated by pair (0, r) and by pair (0, k) (one ratio per
    rig). A pair without such a ratio is invalid.

    Args:
        views (Views): The observations.
        pairs (PairPoses): P rigs of V - 1 pairs.
        reference (Tensor): Reference pair index per rig (P,).

    Returns:
        Rig: View 0 prepended (the identity, posed when its reference pair
        is), ``gauge = reference + 1``.
    """
    rot, trans, valid = pairs.rotation, pairs.translation, pairs.valid
    num_rigs, num_pairs = valid.shape
    rigs = torch.arange(num_rigs, device=rot.device)
    valid_ref = valid[rigs, reference]
    if num_pairs > 1:
        depth_ref = _pair_view0_depths(views, pairs, reference)
        scales = []
        for k in range(num_pairs):
            ratio = depth_ref / _pair_view0_depths(
                views, pairs, torch.full_like(reference, k))
            if num_rigs == 1:
                ratio = ratio.reshape(1, -1)
            ok = torch.isfinite(ratio) & (ratio > 0)
            scale = torch.where(
                ok.sum(-1) >= 2,
                weighted_median(torch.where(ok, ratio, 0.0), ok.to(ratio)),
                torch.full_like(ratio[:, 0], math.nan))
            scales.append(torch.where(reference == k,
                                      torch.ones_like(scale), scale))
        scale = torch.stack(scales, -1)  # (P, V - 1)
        valid = valid & torch.isfinite(scale) & (scale > 0)
        trans = trans * torch.nan_to_num(scale, nan=0.0)[..., None]
    valid = valid & valid_ref[:, None]  # no scale without the reference

    eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
    return Rig(
        rotation=torch.cat([eye.expand(num_rigs, 1, 3, 3), rot], 1),
        translation=torch.cat([torch.zeros_like(trans[:, :1]), trans], 1),
        valid=torch.cat([valid_ref[:, None], valid], 1),
        gauge=reference + 1)


def _pair_view0_depths(views: Views, pairs: PairPoses,
                       pair_index: Tensor) -> Tensor:
    """View-0 depths of the two-view triangulation by pair (0, k) of each
    rig (k - 1 = ``pair_index`` (P,)), NaN where invalid.

    Returns:
        Tensor: (F, J).
    """
    xn, weights = views.points, views.weights
    num_rigs = pairs.valid.shape[0]
    rigs = torch.arange(num_rigs, device=xn.device)
    frame_pair = pair_index.expand(views.num_frames)
    frames = torch.arange(views.num_frames, device=xn.device)
    rig_of_frame = frames if num_rigs > 1 else torch.zeros_like(frames)
    pair_ok = pairs.valid[rig_of_frame, frame_pair].to(weights)
    x = torch.stack([xn[:, 0], xn[frames, frame_pair + 1]], 1)
    w = torch.stack([weights[:, 0], weights[frames, frame_pair + 1]], 1) * \
        pair_ok[:, None, None]
    rot = pairs.rotation[rigs, pair_index]
    trans = pairs.translation[rigs, pair_index]
    eye = torch.eye(3, dtype=xn.dtype, device=xn.device).expand_as(rot)
    proj = torch.stack([projection_matrices(eye, torch.zeros_like(trans)),
                        projection_matrices(rot, trans)], 1)
    points, ok = triangulate_dlt(x, proj.expand(views.num_frames, -1, -1, -1),
                                 w, solver='linear')
    return torch.where(ok, points[..., 2],
                       torch.full_like(points[..., 2], math.nan))


# Stage 5 ------------------------------------------------------------------


def triangulate_rig(views: Views, rig: Rig,
                    method: str = 'linear',
                    robust_px: Optional[float] = None
                    ) -> Tuple[Tensor, Tensor]:
    """Triangulate every joint from the posed views of its rig.

    Args:
        views (Views): The observations.
        rig (Rig): P = 1 or F rigs.
        method (str): See :class:`RefinementOptions`.
        robust_px (float, optional): Resist one outlier view per joint
            (:func:`triangulate_robust`, Cauchy scale in pixels; three or
            more views).

    Returns:
        tuple: ``points`` (F, J, 3) in view 0's frame and ``valid`` (F, J).
    """
    nf = views.num_frames
    view_w = _posed_weights(views, rig)
    if method == 'optimal' and views.num_views == 2:
        k = views.intrinsics
        return triangulate_optimal_two_view(
            views.points[:, 0], views.points[:, 1],
            rig.rotation[:, 1].expand(nf, -1, -1),
            rig.translation[:, 1].expand(nf, -1),
            k[0].expand(nf, -1, -1), k[1].expand(nf, -1, -1), view_w)
    proj = projection_matrices(rig.rotation,
                               rig.translation).expand(nf, -1, -1, -1)
    solver = 'svd' if method == 'dlt' else 'linear'
    if robust_px is not None:
        return triangulate_robust(views.points, proj, view_w,
                                  robust_px / views.focal, solver=solver)
    return triangulate_dlt(views.points, proj, view_w, solver=solver)


def _posed_weights(views: Views, rig: Rig) -> Tensor:
    """Observation weights (F, V, J), 0 in views the rig has not posed."""
    return views.weights * rig.valid[:, :, None].to(views.weights)


# Stage 6 ------------------------------------------------------------------


def resect_failed_views(views: Views, rig: Rig, points: Tensor,
                        valid: Tensor) -> Rig:
    """Pose each unposed view of a static rig by resection against the
    points the posed views triangulated.

    Args:
        views (Views): The observations.
        rig (Rig): A static rig (P = 1).
        points (Tensor): (F, J, 3). valid (Tensor): (F, J).

    Returns:
        Rig: With the resected views posed where resection succeeded.
    """
    missing = torch.nonzero(~rig.valid[0]).flatten()
    num = len(missing)
    pts = points.reshape(1, -1, 3).expand(num, -1, -1)
    obs = views.points[:, missing].permute(1, 0, 2, 3).reshape(num, -1, 2)
    w = (views.weights[:, missing] * valid[:, None].to(views.weights))
    w = w.permute(1, 0, 2).reshape(num, -1)
    r, t, ok = resect_dlt(pts, obs, w)
    rot, trans, posed = (rig.rotation.clone(), rig.translation.clone(),
                         rig.valid.clone())
    rot[0, missing] = torch.where(ok[:, None, None], r, rot[0, missing])
    trans[0, missing] = torch.where(ok[:, None], t, trans[0, missing])
    posed[0, missing] = ok
    return Rig(rot, trans, posed, rig.gauge)


# Stage 7 ------------------------------------------------------------------


def bundle_adjust_rig(views: Views, rig: Rig, valid: Tensor,
                      options: EpipolarOptions) -> Rig:
    """Refine the rig's poses by the robust reprojection error of every
    posed observation of a triangulated joint, keeping the gauge.

    Args:
        views (Views): The observations.
        rig (Rig): The rig to refine.
        valid (Tensor): Triangulated joints (F, J).
        options (EpipolarOptions): Threshold and iterations.

    Returns:
        Rig: Refined poses, same validity and gauge.
    """
    view_w = _posed_weights(views, rig)
    rot, trans = bundle_adjust(
        views.points, view_w * valid[:, None].to(view_w), rig.rotation,
        rig.translation, rig.frame_pose_index(views.num_frames), views.focal,
        options.robust.threshold_px, options.refinement.bundle_adjust_iters,
        gauge=rig.gauge)
    return Rig(rot, trans, rig.valid, rig.gauge)


# Stage 8 ------------------------------------------------------------------


def condition(views: Views, rig: Rig, points: Tensor, valid: Tensor,
              validity: ValidityOptions) -> Tuple[Tensor, Tensor]:
    """Mask joints that no two rays see at a usable angle, and points that
    are not finite or farther than ``max_distance`` baselines.

    Returns:
        tuple: ``points`` (F, J, 3), 0 where not valid, and ``valid``.
    """
    nf, nv = views.num_frames, views.num_views
    view_w = _posed_weights(views, rig)
    rays = torch.cat([views.points, torch.ones_like(views.points[..., :1])],
                     -1) @ rig.rotation.expand(nf, -1, -1, -1)
    rays = rays / rays.norm(dim=-1, keepdim=True)  # R_v^T h in view 0
    best = torch.zeros_like(views.weights[:, 0])
    for a in range(nv):
        for b in range(a + 1, nv):
            sin = torch.cross(rays[:, a], rays[:, b], dim=-1).norm(dim=-1)
            use = (view_w[:, a] > 0) & (view_w[:, b] > 0)
            best = torch.maximum(best, torch.where(use, sin, 0.0))
    valid = valid & (best >= math.sin(math.radians(
        validity.min_ray_angle_deg)))
    valid = valid & torch.isfinite(points).all(-1) & \
        (points.norm(dim=-1) < validity.max_distance)
    points = torch.where(valid[..., None], points, torch.zeros_like(points))
    return points, valid


def _empty_result(views: Views, pooled: bool) -> Tuple[Tensor, Tensor, Rig]:
    """The output for zero frames or zero joints: nothing valid."""
    xn = views.points
    nf, nv, nj = views.num_frames, views.num_views, views.num_joints
    num_rigs = 1 if pooled else nf
    eye = torch.eye(3, dtype=xn.dtype, device=xn.device)
    rig = Rig(
        rotation=eye.expand(num_rigs, nv, 3, 3).clone(),
        translation=xn.new_zeros(num_rigs, nv, 3),
        valid=torch.zeros(num_rigs, nv, dtype=torch.bool, device=xn.device),
        gauge=torch.ones(num_rigs, dtype=torch.long, device=xn.device))
    return (xn.new_zeros(nf, nj, 3),
            torch.zeros(nf, nj, dtype=torch.bool, device=xn.device), rig)

