# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""A static room around the camera rig: textured floor, walls and light.

The room is 3D (a floor plane ``z = 0`` and a cylindrical wall around the
rig), so the four cameras of a sequence see one consistent scene with real
perspective. Textures are procedural (value noise, tiles, planks, stripes,
panels) and drawn per sequence.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from .cameras import camera_center


def random_color(rng: np.random.Generator, sat: Tuple[float, float] = (0.1,
                                                                          0.8),
                 val: Tuple[float, float] = (0.2, 0.95)) -> np.ndarray:
    """A random RGB colour (3,) in [0, 1] from HSV ranges."""
    hue = rng.uniform(0.0, 1.0)
    s = rng.uniform(*sat)
    v = rng.uniform(*val)
    k = np.mod(np.array([5.0, 3.0, 1.0]) + hue * 6.0, 6.0)
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


@dataclass
class Texture:
    """A procedural 2D texture in metres.

    Attributes:
        kind (str): ``'noise'``, ``'tiles'``, ``'planks'``, ``'stripes'`` or
            ``'panels'``.
        colors (np.ndarray): (2, 3) RGB palette.
        scale (float): Feature size, metres.
        angle (float): Orientation of stripes and planks, radians.
        grid (np.ndarray): (G, G) periodic random values for noise.
    """
    kind: str
    colors: np.ndarray
    scale: float
    angle: float
    grid: np.ndarray = field(repr=False)

    def __call__(self, uv: np.ndarray) -> np.ndarray:
        """Colours (N, 3) at texture coordinates (N, 2), metres."""
        # Two octaves: blotches plus finer grain.
        noise = 0.65 * value_noise(self.grid, uv / (0.5 * self.scale)) + \
            0.35 * value_noise(self.grid.T, uv / (0.12 * self.scale) + 7.3)
        c = np.cos(self.angle), np.sin(self.angle)
        along = uv[:, 0] * c[0] + uv[:, 1] * c[1]
        across = -uv[:, 0] * c[1] + uv[:, 1] * c[0]
        if self.kind == 'noise':
            w = noise
        elif self.kind == 'tiles':
            cell = np.floor(uv / self.scale)
            parity = np.mod(cell.sum(axis=1), 2.0)
            grout = (np.abs(np.mod(uv / self.scale + 0.5, 1.0) - 0.5)
                     < 0.03).any(axis=1)
            w = 0.7 * parity + 0.3 * noise
            w[grout] = 0.0
        elif self.kind == 'planks':
            plank = np.floor(across / self.scale)
            w = 0.6 * np.mod(plank * 0.618, 1.0) + 0.4 * value_noise(
                self.grid, np.stack([along * 0.3, across * 6.0], axis=1) /
                self.scale)
        elif self.kind == 'stripes':
            w = 0.8 * (np.mod(along / self.scale, 1.0) < 0.5) + 0.2 * noise
        else:  # panels: random rectangles of colour
            cell = np.floor(uv / np.array([self.scale * 1.7, self.scale]))
            w = np.mod(np.sin(cell[:, 0] * 12.9898 + cell[:, 1] * 78.233) *
                       43758.5453, 1.0)
            w = 0.7 * w + 0.3 * noise
        return self.colors[0] * (1.0 - w[:, None]) + self.colors[1] * w[:,
                                                                        None]


def value_noise(grid: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear, periodic value noise in [0, 1].

    Args:
        grid (np.ndarray): (G, G) random values.
        uv (np.ndarray): (N, 2) coordinates in grid cells.

    Returns:
        np.ndarray: (N,) smoothly varying values.
    """
    g = grid.shape[0]
    i0 = np.floor(uv).astype(np.int64)
    f = uv - i0
    f = f * f * (3.0 - 2.0 * f)
    x0, y0 = np.mod(i0[:, 0], g), np.mod(i0[:, 1], g)
    x1, y1 = np.mod(x0 + 1, g), np.mod(y0 + 1, g)
    top = grid[x0, y0] * (1 - f[:, 0]) + grid[x1, y0] * f[:, 0]
    bot = grid[x0, y1] * (1 - f[:, 0]) + grid[x1, y1] * f[:, 0]
    return top * (1 - f[:, 1]) + bot * f[:, 1]


def sample_texture(rng: np.random.Generator, kinds: Tuple[str, ...],
                   scale: Tuple[float, float]) -> Texture:
    """Draw a texture of one of ``kinds`` with a feature size in ``scale``."""
    c0 = random_color(rng)
    # The second colour is a related shade or a contrasting colour.
    c1 = np.clip(c0 * rng.uniform(0.5, 1.5) + rng.normal(0, 0.1, 3), 0, 1) \
        if rng.uniform() < 0.6 else random_color(rng)
    return Texture(
        kind=str(kinds[rng.integers(len(kinds))]),
        colors=np.stack([c0, c1]),
        scale=float(rng.uniform(*scale)),
        angle=float(rng.uniform(0, np.pi)),
        grid=rng.uniform(0.0, 1.0, size=(32, 32)))


@dataclass
class Scene:
    """The room of one sequence.

    Attributes:
        centre (np.ndarray): (2,) floor centre of the rig, metres.
        floor (Texture): Floor texture (floor ``x, y`` coordinates).
        wall (Texture): Wall texture (arc length and height).
        wall_radius (float): Radius of the cylindrical wall, metres.
        ceiling (np.ndarray): (3,) RGB above the wall.
        light_dir (np.ndarray): (3,) unit world direction to the light.
        ambient (float): Ambient share of the shading.
        exposure (np.ndarray): (4, 3) per-camera RGB gain (white balance).
    """
    centre: np.ndarray
    floor: Texture
    wall: Texture
    wall_radius: float
    ceiling: np.ndarray
    light_dir: np.ndarray
    ambient: float
    exposure: np.ndarray


def sample_scene(rng: np.random.Generator,
                 centre: Tuple[float, float] = (0.0, 0.0)) -> Scene:
    """Draw a room, its lighting and the cameras' white balance."""
    elev = rng.uniform(np.deg2rad(35), np.deg2rad(75))
    azim = rng.uniform(-np.pi, np.pi)
    light = np.array([
        np.cos(elev) * np.cos(azim),
        np.cos(elev) * np.sin(azim),
        np.sin(elev)
    ])
    return Scene(
        centre=np.asarray(centre, dtype=np.float64),
        floor=sample_texture(rng, ('noise', 'tiles', 'planks', 'stripes'),
                             (0.3, 1.2)),
        wall=sample_texture(rng, ('noise', 'stripes', 'panels', 'planks'),
                            (0.3, 1.5)),
        wall_radius=float(rng.uniform(7.0, 9.0)),
        ceiling=random_color(rng, val=(0.5, 0.95)),
        light_dir=light,
        ambient=float(rng.uniform(0.3, 0.55)),
        exposure=rng.uniform(0.85, 1.15, size=(4, 3)))


def render_background(scene: Scene, camera: Dict,
                      rays: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Render the empty room seen by one camera.

    Args:
        scene (Scene): The room.
        camera (dict): A camera record.
        rays (np.ndarray): (h, w, 3) camera-frame pixel rays.

    Returns:
        tuple: ``image`` (h, w, 3) float32 RGB in [0, 1], ``floor_xy``
        (h, w, 2) world floor point of every pixel (NaN off the floor) and
        ``depth`` (h, w) camera depth ``Z`` of the room's surface.
    """
    h, w = rays.shape[:2]
    d = rays.reshape(-1, 3) @ camera['R'].T  # world directions
    o = camera_center(camera)
    # Floor z = 0.
    with np.errstate(divide='ignore', invalid='ignore'):
        t_floor = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
    # Cylinder |o_xy + t d_xy - centre| = R around the rig.
    oc = o[:2] - scene.centre
    qa = (d[:, :2]**2).sum(axis=1)
    qb = d[:, :2] @ oc
    qc = oc @ oc - scene.wall_radius**2
    t_wall = (-qb + np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))) / qa
    on_floor = t_floor < t_wall
    image = np.empty((h * w, 3))
    floor_xy = np.full((h * w, 2), np.nan)

    pf = o + d[on_floor] * t_floor[on_floor, None]
    floor_xy[on_floor] = pf[:, :2]
    floor_light = 0.55 + 0.45 * scene.light_dir[2]
    image[on_floor] = scene.floor(pf[:, :2]) * floor_light

    wall = ~on_floor
    pw = o + d[wall] * t_wall[wall, None]
    rel = pw[:, :2] - scene.centre
    arc = np.arctan2(rel[:, 1], rel[:, 0]) * scene.wall_radius
    col = scene.wall(np.stack([arc, pw[:, 2]], axis=1))
    # Walls facing the light are brighter; a dark skirting board at the foot.
    facing = -(rel / scene.wall_radius) @ scene.light_dir[:2]
    col *= (0.6 + 0.3 * np.clip(facing, 0, None))[:, None]
    col[pw[:, 2] < 0.12] *= 0.45
    col[pw[:, 2] > 3.2] = scene.ceiling
    image[wall] = col
    # Faint distance fog gives the room depth.
    dist = np.where(on_floor, t_floor, t_wall) * np.sqrt(
        (d**2).sum(axis=1))
    fog = np.clip((dist - 3.0) / 20.0, 0.0, 0.35)[:, None]
    image = image * (1 - fog) + 0.7 * fog
    # Rays are (x, y, 1) in the camera: the ray parameter is the depth Z.
    depth = np.where(on_floor, t_floor, t_wall)
    return (image.reshape(h, w, 3).astype(np.float32),
            floor_xy.reshape(h, w, 2), depth.reshape(h, w))


def shadow_factor(floor_xy: np.ndarray, blobs: np.ndarray,
                  sigmas: np.ndarray, strength: float = 0.45,
                  box: Optional[Tuple[int, int, int, int]] = None
                  ) -> np.ndarray:
    """Soft contact shadow of the body on the floor.

    Args:
        floor_xy (np.ndarray): (h, w, 2) floor points (NaN off the floor).
        blobs (np.ndarray): (B, 2) floor points under the body (feet,
            pelvis).
        sigmas (np.ndarray): (B,) blob sizes, metres.
        strength (float): Darkening at the blob centre.
        box (tuple, optional): ``(x0, y0, x1, y1)``: only these pixels can
            be in shadow (a speed-up); default the whole image.

    Returns:
        np.ndarray: (h, w) multiplicative factor in ``(1 - strength, 1]``.
    """
    h, w = floor_xy.shape[:2]
    x0, y0, x1, y1 = box if box is not None else (0, 0, w, h)
    out = np.ones((h, w), dtype=np.float32)
    sub = floor_xy[y0:y1, x0:x1]
    valid = np.isfinite(sub[..., 0])
    pts = sub[valid]
    acc = np.zeros(len(pts))
    for b, s in zip(blobs, sigmas):
        d2 = ((pts - b)**2).sum(axis=1)
        acc = np.maximum(acc, np.exp(-d2 / (2.0 * s * s)))
    win = out[y0:y1, x0:x1]
    win[valid] = 1.0 - strength * acc
    return out
