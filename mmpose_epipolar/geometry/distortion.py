"""OpenCV lens model: distortion, iterative undistortion and projection.

The model is OpenCV's (and Human3.6M's, see docs/conventions.md) with
coefficients ``[k1, k2, p1, p2, k3]``::

    r2 = x^2 + y^2,  radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
    xd = x radial + 2 p1 x y + p2 (r2 + 2 x^2)
    yd = y radial + p1 (r2 + 2 y^2) + 2 p2 x y
"""
from typing import Optional, Tuple

import torch
from torch import Tensor


def _coeffs(distortion: Tensor, like: Tensor) -> Tuple[Tensor, ...]:
    """Split (..., 5) coefficients into five (..., 1) tensors that broadcast
    against points of shape (..., N)."""
    d = distortion.to(like)
    return tuple(d[..., i:i + 1] for i in range(5))


def distort_normalized(xy: Tensor, distortion: Tensor) -> Tensor:
    """Apply lens distortion to normalised image coordinates.

    Args:
        xy (Tensor): Undistorted normalised coordinates ``(X/Z, Y/Z)``,
            shape (..., N, 2).
        distortion (Tensor): ``[k1, k2, p1, p2, k3]``, shape (..., 5),
            broadcastable against ``xy.shape[:-2]``.

    Returns:
        Tensor: Distorted normalised coordinates, shape (..., N, 2).
    """
    k1, k2, p1, p2, k3 = _coeffs(distortion, xy)
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([xd, yd], -1)


def undistort_normalized(xy_d: Tensor,
                         distortion: Tensor,
                         iters: int = 20,
                         tol: float = 1e-14) -> Tensor:
    """Invert :func:`distort_normalized` by Newton's method.

    ``cv2.undistortPoints`` uses a fixed-point iteration that converges
    slowly (and can diverge) far from the centre; Newton with the analytic
    2x2 Jacobian reaches float64 precision in a few steps on real lenses.

    Args:
        xy_d (Tensor): Distorted normalised coordinates, (..., N, 2).
        distortion (Tensor): ``[k1, k2, p1, p2, k3]``, (..., 5).
        iters (int): Maximum Newton steps.
        tol (float): Stop when the largest step is below this.

    Returns:
        Tensor: Undistorted normalised coordinates, shape (..., N, 2).
        Points where the iteration does not converge (outside the lens
        model's invertible region) come back NaN, so callers mask them.
    """
    k1, k2, p1, p2, k3 = _coeffs(distortion, xy_d)
    xd, yd = xy_d[..., 0], xy_d[..., 1]
    x, y = xd.clone(), yd.clone()
    for _ in range(iters):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d radial / d r2
        fx = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) - xd
        fy = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y - yd
        jxx = radial + 2 * x * x * dradial + 2 * p1 * y + 6 * p2 * x
        jyy = radial + 2 * y * y * dradial + 6 * p1 * y + 2 * p2 * x
        jxy = 2 * x * y * dradial + 2 * p1 * x + 2 * p2 * y
        det = jxx * jyy - jxy * jxy
        det = torch.where(det.abs() > 1e-12, det, torch.full_like(det, 1e-12))
        dx = (jyy * fx - jxy * fy) / det
        dy = (jxx * fy - jxy * fx) / det
        x = x - dx
        y = y - dy
        step = torch.maximum(dx.abs(), dy.abs())
        step = step[torch.isfinite(step)]
        if step.numel() == 0 or float(step.max()) < tol:
            break
    out = torch.stack([x, y], -1)
    # Reject non-converged points, and solutions beyond the fold of the
    # lens model (where the mapping flips: radial factor or Jacobian
    # determinant <= 0), which no real camera images.
    err = (distort_normalized(out, distortion) - xy_d).norm(dim=-1)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)
    jxx = radial + 2 * x * x * dradial + 2 * p1 * y + 6 * p2 * x
    jyy = radial + 2 * y * y * dradial + 6 * p1 * y + 2 * p2 * x
    jxy = 2 * x * y * dradial + 2 * p1 * x + 2 * p2 * y
    bad = ~((err < 1e-6) & (radial > 0) & (jxx * jyy - jxy * jxy > 0))
    return out.masked_fill(bad[..., None], float('nan'))


def pixels_to_normalized(pixels: Tensor, intrinsics: Tensor) -> Tensor:
    """``K^-1`` on pixels: (..., N, 2) with K (..., 3, 3) -> (..., N, 2)."""
    fx = intrinsics[..., 0, 0, None]
    fy = intrinsics[..., 1, 1, None]
    s = intrinsics[..., 0, 1, None]
    cx = intrinsics[..., 0, 2, None]
    cy = intrinsics[..., 1, 2, None]
    y = (pixels[..., 1] - cy) / fy
    x = (pixels[..., 0] - cx - s * y) / fx
    return torch.stack([x, y], -1)


def normalized_to_pixels(xy: Tensor, intrinsics: Tensor) -> Tensor:
    """``K`` on normalised coordinates: (..., N, 2) -> (..., N, 2)."""
    k = intrinsics.to(xy)
    u = k[..., 0, 0, None] * xy[..., 0] + k[..., 0, 1, None] * xy[..., 1] \
        + k[..., 0, 2, None]
    v = k[..., 1, 1, None] * xy[..., 1] + k[..., 1, 2, None]
    return torch.stack([u, v], -1)


def undistort_points(pixels: Tensor,
                     intrinsics: Tensor,
                     distortion: Optional[Tensor] = None,
                     normalized: bool = True) -> Tensor:
    """Remove lens distortion from pixel coordinates (batched
    ``cv2.undistortPoints``).

    Args:
        pixels (Tensor): Distorted pixels, shape (..., N, 2).
        intrinsics (Tensor): ``K``, shape (..., 3, 3).
        distortion (Tensor, optional): ``[k1, k2, p1, p2, k3]``, (..., 5).
        normalized (bool): Return normalised coordinates ``K^-1 x`` (like
            ``cv2.undistortPoints`` without ``P``); otherwise undistorted
            pixels (like passing ``P=K``).

    Returns:
        Tensor: Shape (..., N, 2); NaN where the lens model cannot be
        inverted.
    """
    xy = pixels_to_normalized(pixels, intrinsics.to(pixels))
    if distortion is not None:
        xy = undistort_normalized(xy, distortion.to(pixels))
    return xy if normalized else normalized_to_pixels(xy, intrinsics)


def project_points(points: Tensor,
                   intrinsics: Tensor,
                   distortion: Optional[Tensor] = None,
                   rotation: Optional[Tensor] = None,
                   translation: Optional[Tensor] = None) -> Tensor:
    """Project 3D points to (distorted) pixels, like ``cv2.projectPoints``.

    Args:
        points (Tensor): 3D points, shape (..., N, 3).
        intrinsics (Tensor): ``K``, shape (..., 3, 3).
        distortion (Tensor, optional): ``[k1, k2, p1, p2, k3]``, (..., 5).
        rotation (Tensor, optional): ``R`` with ``X_cam = R X + t``,
            shape (..., 3, 3). Defaults to the identity.
        translation (Tensor, optional): ``t``, shape (..., 3).

    Returns:
        Tensor: Pixels, shape (..., N, 2) (inf/NaN for points at or behind
        the camera plane: callers check depth).
    """
    if rotation is not None:
        points = points @ rotation.to(points).transpose(-1, -2)
    if translation is not None:
        points = points + translation.to(points)[..., None, :]
    xy = points[..., :2] / points[..., 2:3]
    if distortion is not None:
        xy = distort_normalized(xy, distortion.to(points))
    return normalized_to_pixels(xy, intrinsics)
