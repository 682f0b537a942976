# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""A small ray caster for capsules and ellipsoids with a z-buffer.

Every pixel's viewing ray comes from undistorting the pixel through the real
camera model (:func:`~.cameras.pixel_rays`), so outlines carry the same lens
distortion as the projected ground-truth joints. Surfaces are shaded with a
Lambertian term plus ambient light; the nearest hit along each ray wins, so
self-occlusion is exact.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .cameras import project_camera_points, world_to_camera


@dataclass
class Capsule:
    """Points within ``radius`` of the segment ``a``-``b`` (world, metres).

    Attributes:
        a (np.ndarray): (3,) first end.
        b (np.ndarray): (3,) second end.
        radius (float): Radius, metres.
        color (np.ndarray): (3,) RGB in [0, 1].
        stripe_color (np.ndarray, optional): (3,) RGB of stripes across the
            axis, or None for a plain surface.
        stripe_period (float): Stripe period along the axis, metres.
    """
    a: np.ndarray
    b: np.ndarray
    radius: float
    color: np.ndarray
    stripe_color: Optional[np.ndarray] = None
    stripe_period: float = 0.06


@dataclass
class Ellipsoid:
    """An ellipsoid (world, metres).

    Attributes:
        center (np.ndarray): (3,) centre.
        rotation (np.ndarray): (3, 3) columns are the principal axes.
        radii (np.ndarray): (3,) semi-axes along those columns.
        color (np.ndarray): (3,) RGB in [0, 1].
        stripe_color (np.ndarray, optional): (3,) RGB of stripes across the
            third axis, or None.
        stripe_period (float): Stripe period along the third axis, metres.
    """
    center: np.ndarray
    rotation: np.ndarray
    radii: np.ndarray
    color: np.ndarray
    stripe_color: Optional[np.ndarray] = None
    stripe_period: float = 0.06


Primitive = Union[Capsule, Ellipsoid]


def _world_aabb(prim: Primitive) -> Tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box (min (3,), max (3,)) enclosing a primitive."""
    if isinstance(prim, Capsule):
        lo = np.minimum(prim.a, prim.b) - prim.radius
        hi = np.maximum(prim.a, prim.b) + prim.radius
        return lo, hi
    half = np.sqrt(((prim.rotation * prim.radii)**2).sum(axis=1))
    return prim.center - half, prim.center + half


def pixel_boxes(primitives: Sequence[Primitive], camera: Dict,
                margin: float = 2.0) -> List[Optional[Tuple[int, int, int,
                                                             int]]]:
    """The image rows/columns each primitive can cover (None if none).

    The 8 corners of each world box are projected (with distortion); the
    lens distortion of the H36M cameras is mild, so their hull plus a margin
    contains the projected outline.

    Returns:
        list: Per primitive ``(x0, y0, x1, y1)`` half-open, clipped to the
        image, or None when it cannot be seen.
    """
    if not primitives:
        return []
    boxes = np.stack([np.stack(_world_aabb(p)) for p in primitives])
    sel = np.array(np.meshgrid([0, 1], [0, 1], [0, 1],
                               indexing='ij')).reshape(3, -1).T  # (8, 3)
    corners = boxes[:, sel, [0, 1, 2]]  # (P, 8, 3)
    pc = world_to_camera(corners, camera)
    w, h = camera['w'], camera['h']
    front = pc[..., 2] > 1e-3
    uv = project_camera_points(np.where(front[..., None], pc, 1.0), camera)
    lo = np.floor(uv.min(axis=1) - margin).astype(int)
    hi = np.ceil(uv.max(axis=1) + margin).astype(int) + 1
    out: List[Optional[Tuple[int, int, int, int]]] = []
    for i in range(len(primitives)):
        if not front[i].any():
            out.append(None)
            continue
        if not front[i].all():
            # Too close to (or behind) the camera for the hull to hold.
            out.append((0, 0, w, h))
            continue
        x0, y0 = max(lo[i, 0], 0), max(lo[i, 1], 0)
        x1, y1 = min(hi[i, 0], w), min(hi[i, 1], h)
        out.append((int(x0), int(y0), int(x1), int(y1))
                   if x0 < x1 and y0 < y1 else None)
    return out


def intersect_capsule(rays: np.ndarray, a: np.ndarray, b: np.ndarray,
                      radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """First hit of rays from the origin with a capsule.

    Args:
        rays (np.ndarray): (N, 3) ray directions (need not be unit).
        a (np.ndarray): (3,) segment start, camera frame.
        b (np.ndarray): (3,) segment end, camera frame.
        radius (float): Capsule radius.

    Returns:
        tuple: ``t`` (N,) ray parameter of the hit (``inf`` for a miss; with
        ``(x, y, 1)`` rays it is the depth ``Z``) and ``normal`` (N, 3) unit
        outward normals (undefined for misses).
    """
    ba = b - a
    oa = -a
    baba = ba @ ba
    baoa = ba @ oa
    oaoa = oa @ oa
    rdrd = np.einsum('ni,ni->n', rays, rays)
    bard = rays @ ba
    rdoa = rays @ oa
    # Infinite cylinder: |w|^2 baba - (w.ba)^2 = r^2 baba, w = oa + t rd.
    qa = baba * rdrd - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - radius * radius * baba
    disc = qb * qb - qa * qc
    t = np.full(len(rays), np.inf)
    hit = (disc >= 0) & (qa > 1e-12)
    t_cyl = np.where(hit, (-qb - np.sqrt(np.maximum(disc, 0.0))) /
                     np.where(qa > 1e-12, qa, 1.0), np.inf)
    y = baoa + t_cyl * bard
    body = hit & (y > 0) & (y < baba)
    t[body] = t_cyl[body]
    # The capsule is the union of the finite cylinder and two end spheres:
    # the first hit of a union of convex parts is the nearest first hit.
    cand = hit | (qa <= 1e-12)
    if cand.any():
        rd = rays[cand]
        for centre in (a, b):
            # |t rd - centre|^2 = r^2.
            cb = -(rd @ centre)
            cc = centre @ centre - radius * radius
            cdisc = cb * cb - rdrd[cand] * cc
            tc = np.where(cdisc >= 0, (-cb - np.sqrt(np.maximum(cdisc, 0.0)))
                          / rdrd[cand], np.inf)
            t[cand] = np.minimum(t[cand], tc)
    p = rays * np.where(np.isfinite(t), t, 0.0)[:, None]
    s = np.clip(((p - a) @ ba) / baba, 0.0, 1.0)
    normal = (p - a - s[:, None] * ba) / radius
    return t, normal


def intersect_ellipsoid(rays: np.ndarray, center: np.ndarray,
                        rotation: np.ndarray,
                        radii: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """First hit of rays from the origin with an ellipsoid.

    Args:
        rays (np.ndarray): (N, 3) ray directions.
        center (np.ndarray): (3,) centre, camera frame.
        rotation (np.ndarray): (3, 3) principal axes as columns, camera
            frame.
        radii (np.ndarray): (3,) semi-axes.

    Returns:
        tuple: ``t`` (N,) (``inf`` for a miss) and ``normal`` (N, 3).
    """
    # In the frame where the ellipsoid is the unit sphere.
    o = (-center @ rotation) / radii
    d = (rays @ rotation) / radii
    qa = np.einsum('ni,ni->n', d, d)
    qb = d @ o
    qc = o @ o - 1.0
    disc = qb * qb - qa * qc
    hit = disc >= 0
    t = np.where(hit, (-qb - np.sqrt(np.maximum(disc, 0.0))) / qa, np.inf)
    local = o + d * np.where(hit, t, 0.0)[:, None]
    normal = (local / radii) @ rotation.T
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    return t, normal


def _to_camera(prim: Primitive, camera: Dict) -> Primitive:
    """The same primitive expressed in the camera frame."""
    if isinstance(prim, Capsule):
        return Capsule(
            world_to_camera(prim.a, camera), world_to_camera(prim.b, camera),
            prim.radius, prim.color, prim.stripe_color, prim.stripe_period)
    return Ellipsoid(
        world_to_camera(prim.center, camera),
        camera['R'].T @ prim.rotation, prim.radii, prim.color,
        prim.stripe_color, prim.stripe_period)


def _surface_color(prim: Primitive, points: np.ndarray) -> np.ndarray:
    """Base colour (N, 3) at hit points (N, 3) (camera frame)."""
    color = np.broadcast_to(np.asarray(prim.color, np.float64),
                            points.shape).copy()
    if prim.stripe_color is None:
        return color
    if isinstance(prim, Capsule):
        axis = prim.b - prim.a
        coord = (points - prim.a) @ (axis / np.linalg.norm(axis))
    else:
        coord = (points - prim.center) @ prim.rotation[:, 2]
    stripe = np.mod(coord / prim.stripe_period, 1.0) < 0.5
    color[stripe] = prim.stripe_color
    return color


def render_primitives(camera: Dict,
                      rays: np.ndarray,
                      primitives: Sequence[Primitive],
                      background: np.ndarray,
                      light_dir: np.ndarray,
                      ambient: float = 0.4,
                      background_depth: Optional[np.ndarray] = None
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast primitives over a background with a z-buffer.

    Args:
        camera (dict): A camera record (``R``, ``T``, ``f``, ``c``, ``k``,
            ``p``, ``w``, ``h``).
        rays (np.ndarray): (h, w, 3) camera-frame pixel rays from
            :func:`~.cameras.pixel_rays`.
        primitives (sequence): World-frame :class:`Capsule` and
            :class:`Ellipsoid` objects.
        background (np.ndarray): (h, w, 3) float RGB in [0, 1].
        light_dir (np.ndarray): (3,) world direction towards the light.
        ambient (float): Ambient share of the shading, in [0, 1].
        background_depth (np.ndarray, optional): (h, w) depth of the
            background surfaces; parts of primitives behind them (e.g. below
            the floor) stay hidden. Default: infinitely far.

    Returns:
        tuple: ``image`` (h, w, 3) float32 RGB, ``depth`` (h, w) camera
        depth ``Z`` of the visible surface (``background_depth`` or ``inf``
        on the background) and
        ``index`` (h, w) int32 index of the visible primitive (-1 on the
        background).
    """
    h, w = rays.shape[:2]
    image = np.array(background, dtype=np.float32, copy=True)
    depth = np.full((h, w), np.inf) if background_depth is None else \
        np.array(background_depth, dtype=np.float64, copy=True)
    index = np.full((h, w), -1, dtype=np.int32)
    light = camera['R'].T @ np.asarray(light_dir, dtype=np.float64)
    light /= np.linalg.norm(light)
    # World "up" in the camera frame: surfaces facing down get less sky.
    up = camera['R'].T @ np.array([0.0, 0.0, 1.0])
    for i, (prim, box) in enumerate(
            zip(primitives, pixel_boxes(primitives, camera))):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        sub = rays[y0:y1, x0:x1].reshape(-1, 3)
        pc = _to_camera(prim, camera)
        if isinstance(pc, Capsule):
            t, normal = intersect_capsule(sub, pc.a, pc.b, pc.radius)
        else:
            t, normal = intersect_ellipsoid(sub, pc.center, pc.rotation,
                                            pc.radii)
        zbuf = depth[y0:y1, x0:x1].reshape(-1)
        win = (t > 0) & (t < zbuf)
        if not win.any():
            continue
        pts = sub[win] * t[win, None]
        n = normal[win]
        diffuse = np.clip(n @ light, 0.0, None)
        sky = 0.5 + 0.5 * (n @ up)
        shade = ambient * (0.6 + 0.4 * sky) + (1.0 - ambient) * diffuse
        col = _surface_color(pc, pts) * shade[:, None]
        rows, cols = np.divmod(np.flatnonzero(win), x1 - x0)
        rows += y0
        cols += x0
        depth[rows, cols] = t[win]
        index[rows, cols] = i
        image[rows, cols] = np.clip(col, 0.0, 1.0)
    return image, depth, index


def primitive_list(*groups: Sequence[Primitive]) -> List[Primitive]:
    """Concatenate primitive groups into one list."""
    out: List[Primitive] = []
    for g in groups:
        out.extend(g)
    return out
