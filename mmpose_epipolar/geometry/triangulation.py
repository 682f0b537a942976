"""Triangulation: confidence-weighted multi-view DLT and the optimal
two-view (Hartley-Sturm polynomial) correction."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._utils import homogeneous, smallest_eigvec, solve_sym3


def projection_matrices(rotations: Tensor, translations: Tensor) -> Tensor:
    """``P = [R | t]``: (..., 3, 3), (..., 3) -> (..., 3, 4)."""
    return torch.cat([rotations, translations[..., None]], -1)


def triangulate_dlt(points: Tensor,
                    projections: Tensor,
                    weights: Optional[Tensor] = None,
                    solver: str = 'svd') -> Tuple[Tensor, Tensor]:
    """Confidence-weighted linear (DLT) triangulation from V >= 2 views.

    Each view contributes the rows ``w (x P_3 - P_1)`` and
    ``w (y P_3 - P_2)``. Pass normalised (``K^-1``, undistorted)
    coordinates with ``P = [R | t]`` for good conditioning.

    Args:
        points (Tensor): Image points, shape (..., V, N, 2).
        projections (Tensor): Projection matrices, (..., V, 3, 4).
        weights (Tensor, optional): Per-view confidences (..., V, N),
            0 = view not used for that point. Defaults to all ones.
        solver (str): ``'svd'`` for the homogeneous least-squares solution
            (smallest right singular vector, computed as the eigenvector of
            the 4x4 normal matrix), or ``'linear'`` for the inhomogeneous
            solution with the last coordinate fixed to 1 (closed-form 3x3
            solve; several times faster, the same to first order for points
            at finite distance).

    Returns:
        tuple: ``X`` (..., N, 3) and ``valid`` (..., N): at least two
        weighted views, a finite, non-degenerate solution in front of
        every weighted camera. ``X`` is 0 where not valid.
    """
    if solver not in ('svd', 'linear'):
        raise ValueError(f"solver must be 'svd' or 'linear', got {solver!r}")
    if weights is None:
        weights = torch.ones_like(points[..., 0])
    finite = torch.isfinite(points).all(-1)
    weights = torch.where(finite & (weights > 0), weights,
                          torch.zeros_like(weights))
    points = torch.where(finite[..., None], points, torch.zeros_like(points))
    p = projections[..., None, :, :]  # (..., V, 1, 3, 4)
    rows = (points[..., None] * p[..., 2:3, :] - p[..., :2, :]) * \
        weights[..., None, None]  # (..., V, N, 2, 4)
    a = rows.transpose(-4, -3).flatten(-3, -2)  # (..., N, 2V, 4)
    m = a.transpose(-1, -2) @ a  # normal matrices (..., N, 4, 4)
    if solver == 'svd':
        vec, evals = smallest_eigvec(m)
        w = vec[..., 3]
        ok = (w.abs() > 1e-12 * vec.norm(dim=-1)) & \
            (evals[..., 1] > 1e-14 * evals[..., 3].clamp_min(0))
        x = vec[..., :3] / torch.where(ok, w, torch.ones_like(w))[..., None]
    else:
        x, det = solve_sym3(m[..., :3, :3], -m[..., :3, 3])
        scale = m[..., :3, :3].flatten(-2).abs().amax(-1)
        ok = det.abs() > 1e-12 * scale**3
    depth = (projections[..., None, 2, :] *
             homogeneous(x)[..., None, :, :]).sum(-1)  # (..., V, N)
    in_front = ((depth > 0) | (weights == 0)).all(-2)
    valid = ok & in_front & ((weights > 0).sum(-2) >= 2) & \
        torch.isfinite(x).all(-1)
    x = torch.where(valid[..., None], x, torch.zeros_like(x))
    return x, valid


def reprojection_residuals(points: Tensor, projections: Tensor,
                           x: Tensor) -> Tensor:
    """Distances of 3D points' projections from the observations.

    Args:
        points (Tensor): Observations (..., V, N, 2), in the coordinates of
            the projections (normalised for ``P = [R | t]``).
        projections (Tensor): (..., V, 3, 4).
        x (Tensor): 3D points (..., N, 3).

    Returns:
        Tensor: (..., V, N); inf where a point is at or behind a camera.
    """
    proj = (projections[..., None, :, :] @
            homogeneous(x)[..., None, :, :, None])[..., 0]  # (..., V, N, 3)
    depth = proj[..., 2]
    safe = torch.where(depth > 0, depth, torch.ones_like(depth))
    dist = (proj[..., :2] / safe[..., None] - points).norm(dim=-1)
    dist = torch.nan_to_num(dist, nan=float('inf'))
    return torch.where(depth > 0, dist, torch.full_like(dist, float('inf')))


def triangulate_robust(points: Tensor,
                       projections: Tensor,
                       weights: Tensor,
                       scale: float,
                       iters: int = 3,
                       solver: str = 'linear') -> Tuple[Tensor, Tensor]:
    """Triangulation that resists an outlier view per point (a detector
    that swapped left and right in one camera, a wrong person).

    Each point starts from the best of the all-view DLT and every
    leave-one-view-out DLT, scored by the Cauchy cost
    ``sum_v w_v log(1 + (r_v / scale)^2)`` of its reprojection residuals
    ``r_v`` in all views, and is then refined by ``iters`` reweighted DLTs
    with weights ``w_v / (1 + (r_v / scale)^2)``. With two views there is
    no view to leave out: plain :func:`triangulate_dlt`.

    Args:
        points (Tensor): Observations (..., V, N, 2), normalised.
        projections (Tensor): ``[R | t]`` (..., V, 3, 4).
        weights (Tensor): Confidences (..., V, N), 0 = not seen.
        scale (float): The Cauchy scale, in the units of ``points`` (a
            pixel threshold divided by the focal length).
        iters (int): Reweighting steps.
        solver (str): See :func:`triangulate_dlt`.

    Returns:
        tuple: ``X`` (..., N, 3) and ``valid`` (..., N), as
        :func:`triangulate_dlt`.
    """
    num_views = points.shape[-3]
    x, valid = triangulate_dlt(points, projections, weights, solver)
    if num_views < 3:
        return x, valid
    weights = torch.where(torch.isfinite(points).all(-1) & (weights > 0),
                          weights, torch.zeros_like(weights))

    def cost(x_h: Tensor, ok: Tensor) -> Tensor:
        r = reprojection_residuals(points, projections, x_h)
        rho = torch.log1p((r / scale)**2)
        total = torch.where(weights > 0, weights * rho,
                            torch.zeros_like(rho)).sum(-2)
        return torch.where(ok, total, torch.full_like(total, float('inf')))

    best, best_ok, best_cost = x, valid, cost(x, valid)
    for v in range(num_views):
        out = weights.clone()
        out[..., v, :] = 0
        x_v, ok_v = triangulate_dlt(points, projections, out, solver)
        c_v = cost(x_v, ok_v)
        better = c_v < best_cost
        best = torch.where(better[..., None], x_v, best)
        best_ok = torch.where(better, ok_v, best_ok)
        best_cost = torch.where(better, c_v, best_cost)
    x, valid = best, best_ok
    for _ in range(iters):
        r = reprojection_residuals(points, projections, x)
        w = weights / (1 + (r / scale)**2)
        x_new, ok_new = triangulate_dlt(points, projections, w, solver)
        keep = valid & ~ok_new
        x = torch.where(keep[..., None], x, x_new)
        valid = valid | ok_new
    return x, valid


def _polymul(p: Tensor, q: Tensor) -> Tensor:
    """Product of polynomials with ascending coefficients along the last
    axis: (..., n), (..., m) -> (..., n + m - 1)."""
    n, m = p.shape[-1], q.shape[-1]
    out = p.new_zeros(torch.broadcast_shapes(p.shape[:-1], q.shape[:-1]) +
                      (n + m - 1, ))
    for i in range(n):
        out[..., i:i + m] += p[..., i:i + 1] * q
    return out


def _closest_point_to_origin(line: Tensor) -> Tensor:
    """Foot of the perpendicular from the origin on lines ``(l, m, n)``:
    (..., 3) -> homogeneous (..., 3)."""
    lam, mu, nu = line.unbind(-1)
    return torch.stack([-lam * nu, -mu * nu, lam * lam + mu * mu], -1)


def optimal_correction(x1: Tensor, x2: Tensor,
                       fundamental: Tensor) -> Tuple[Tensor, Tensor]:
    """Hartley-Sturm optimal correction of two-view correspondences.

    Finds ``x1', x2'`` with ``x2'^T F x1' = 0`` exactly, minimising
    ``|x1 - x1'|^2 + |x2 - x2'|^2`` (the maximum-likelihood triangulation
    under isotropic Gaussian noise) through the roots of a degree-6
    polynomial (Hartley & Zisserman, Algorithm 12.1). The roots come from
    the eigenvalues of batched 6x6 companion matrices.

    Args:
        x1 (Tensor): Points of image 1, shape (B, N, 2).
        x2 (Tensor): Points of image 2, shape (B, N, 2).
        fundamental (Tensor): ``F`` (B, 3, 3) with ``x2^T F x1 = 0`` in the
            same coordinates as the points.

    Returns:
        tuple: Corrected ``x1'`` and ``x2'``, each (B, N, 2).
    """
    f = fundamental / fundamental.flatten(-2).norm(dim=-1).clamp_min(
        1e-300)[..., None, None]
    # Epipoles of F (right: F e1 = 0, left: e2^T F = 0).
    _, _, vh = torch.linalg.svd(f)
    e1 = vh[..., 2, :]  # (B, 3)
    u, _, _ = torch.linalg.svd(f)
    e2 = u[..., :, 2]
    n = x1.shape[-2]
    # Translate each point to the origin: e' = T e = e - x * e_z.
    e1p = e1[..., None, :].expand(-1, n, -1).clone()
    e2p = e2[..., None, :].expand(-1, n, -1).clone()
    e1p[..., :2] = e1p[..., :2] - x1 * e1p[..., 2:3]
    e2p[..., :2] = e2p[..., :2] - x2 * e2p[..., 2:3]
    e1p = e1p / e1p[..., :2].norm(dim=-1, keepdim=True).clamp_min(1e-300)
    e2p = e2p / e2p[..., :2].norm(dim=-1, keepdim=True).clamp_min(1e-300)

    def rot(e: Tensor) -> Tensor:  # rotates e to (1, 0, e_z)
        zero, one = torch.zeros_like(e[..., 0]), torch.ones_like(e[..., 0])
        return torch.stack([
            torch.stack([e[..., 0], e[..., 1], zero], -1),
            torch.stack([-e[..., 1], e[..., 0], zero], -1),
            torch.stack([zero, zero, one], -1)
        ], -2)

    def t_inv(x: Tensor) -> Tensor:  # inverse of the translation T
        t = torch.zeros(x.shape[:-1] + (3, 3), dtype=x.dtype, device=x.device)
        t[..., 0, 0] = t[..., 1, 1] = t[..., 2, 2] = 1.0
        t[..., :2, 2] = x
        return t

    r1, r2 = rot(e1p), rot(e2p)
    ti1, ti2 = t_inv(x1), t_inv(x2)
    fp = r2 @ ti2.transpose(-1, -2) @ f[:, None] @ ti1 @ r1.transpose(-1, -2)
    f1, f2 = e1p[..., 2], e2p[..., 2]
    a, b = fp[..., 1, 1], fp[..., 1, 2]
    c, d = fp[..., 2, 1], fp[..., 2, 2]

    lin_ab = torch.stack([b, a], -1)  # a t + b
    lin_cd = torch.stack([d, c], -1)  # c t + d
    quad = _polymul(lin_ab, lin_ab) + \
        (f2**2)[..., None] * _polymul(lin_cd, lin_cd)
    g1 = _polymul(torch.stack([torch.zeros_like(a), torch.ones_like(a)], -1),
                  _polymul(quad, quad))  # t * quad^2, degree 5
    one_f1 = torch.stack([torch.ones_like(f1), torch.zeros_like(f1), f1**2],
                         -1)
    g2 = _polymul(_polymul(one_f1, one_f1), _polymul(lin_ab, lin_cd)) * \
        (a * d - b * c)[..., None]  # degree 6
    g = -g2
    g[..., :6] = g[..., :6] + g1
    # Companion matrix of the monic polynomial; a vanishing leading
    # coefficient means a root at infinity, handled by the t = inf case.
    g = g / g.abs().amax(-1, keepdim=True).clamp_min(1e-300)
    lead = g[..., 6]
    lead = torch.where(lead.abs() > 1e-12, lead,
                       torch.full_like(lead, 1e-12) * torch.where(
                           lead < 0, -1.0, 1.0).to(lead))
    comp = torch.zeros(g.shape[:-1] + (6, 6), dtype=g.dtype, device=g.device)
    comp[..., 1:, :5] = torch.eye(5, dtype=g.dtype, device=g.device)
    comp[..., :, 5] = -g[..., :6] / lead[..., None]
    finite = torch.isfinite(comp).flatten(-2).all(-1)
    comp = torch.where(finite[..., None, None], comp, torch.zeros_like(comp))
    roots = torch.linalg.eigvals(comp).real  # (B, N, 6)

    def cost(t: Tensor) -> Tensor:
        at_b = a[..., None] * t + b[..., None]
        ct_d = c[..., None] * t + d[..., None]
        return t**2 / (1 + (f1**2)[..., None] * t**2) + ct_d**2 / (
            at_b**2 + (f2**2)[..., None] * ct_d**2).clamp_min(1e-300)

    costs = cost(roots)
    cost_inf = 1 / (f1**2).clamp_min(1e-300) + c**2 / (
        a**2 + f2**2 * c**2).clamp_min(1e-300)
    best = costs.argmin(-1, keepdim=True)
    t_best = roots.gather(-1, best)[..., 0]
    use_inf = cost_inf < costs.gather(-1, best)[..., 0]

    one, zero = torch.ones_like(t_best), torch.zeros_like(t_best)
    l1 = torch.stack([t_best * f1, one, -t_best], -1)
    l2 = torch.stack([-f2 * (c * t_best + d), a * t_best + b,
                      c * t_best + d], -1)
    l1_inf = torch.stack([f1, zero, -one], -1)
    l2_inf = torch.stack([-f2 * c, a, c], -1)
    l1 = torch.where(use_inf[..., None], l1_inf, l1)
    l2 = torch.where(use_inf[..., None], l2_inf, l2)
    p1 = _closest_point_to_origin(l1)
    p2 = _closest_point_to_origin(l2)
    p1 = (ti1 @ r1.transpose(-1, -2) @ p1[..., None])[..., 0]
    p2 = (ti2 @ r2.transpose(-1, -2) @ p2[..., None])[..., 0]
    return p1[..., :2] / p1[..., 2:], p2[..., :2] / p2[..., 2:]


def triangulate_optimal_two_view(
        x1: Tensor,
        x2: Tensor,
        rotation: Tensor,
        translation: Tensor,
        intrinsics1: Optional[Tensor] = None,
        intrinsics2: Optional[Tensor] = None,
        weights: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Optimal two-view triangulation (the paper's "polynomial
    triangulation"): correct the correspondences with
    :func:`optimal_correction`, then intersect the (now coplanar) rays.

    Args:
        x1 (Tensor): Normalised (undistorted ``K^-1``) points of view 1,
            shape (B, N, 2).
        x2 (Tensor): Normalised points of view 2, shape (B, N, 2).
        rotation (Tensor): ``R`` (B, 3, 3) with ``X_2 = R X_1 + t``.
        translation (Tensor): ``t`` (B, 3).
        intrinsics1 (Tensor, optional): ``K1`` (B, 3, 3). With both
            intrinsics the correction minimises distances in (undistorted)
            pixels rather than normalised units.
        intrinsics2 (Tensor, optional): ``K2`` (B, 3, 3).
        weights (Tensor, optional): (B, 2, N); a point needs weight > 0 in
            both views.

    Returns:
        tuple: ``X`` (B, N, 3) in camera 1 and ``valid`` (B, N), as in
        :func:`triangulate_dlt`.
    """
    from .essential import essential_from_pose, fundamental_from_essential
    e = essential_from_pose(rotation, translation)
    if intrinsics1 is not None and intrinsics2 is not None:
        from .distortion import normalized_to_pixels, pixels_to_normalized
        f = fundamental_from_essential(e, intrinsics1, intrinsics2)
        c1, c2 = optimal_correction(
            normalized_to_pixels(x1, intrinsics1),
            normalized_to_pixels(x2, intrinsics2), f)
        c1 = pixels_to_normalized(c1, intrinsics1)
        c2 = pixels_to_normalized(c2, intrinsics2)
    else:
        c1, c2 = optimal_correction(x1, x2, e)
    eye = torch.eye(3, dtype=x1.dtype, device=x1.device).expand_as(rotation)
    projections = torch.stack([
        projection_matrices(eye, torch.zeros_like(translation)),
        projection_matrices(rotation, translation)
    ], 1)
    return triangulate_dlt(torch.stack([c1, c2], 1), projections, weights,
                           solver='linear')
