# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Real Human3.6M cameras at a reduced image size, and their projection.

A camera record is a dict in MMPose's Human3.6M ``cameras.pkl`` format:
``R`` (3, 3), ``T`` (3, 1) metres, ``f`` (2, 1), ``c`` (2, 1), ``k`` (3, 1),
``p`` (2, 1), ``w``, ``h``, ``name``, ``id``, with
``X_cam = R.T @ (X_world - T)``. Pixel centres sit at integer coordinates.
Projection and undistortion are the package's lens model
(:mod:`mmpose_epipolar.geometry.distortion`, float64).
"""
from typing import Dict, List, Tuple

import numpy as np
import torch

from ...geometry.distortion import project_points, undistort_points
from .h36m_cameras import H36M_CAMERA_IDS, H36M_EXTRINSICS, H36M_INTRINSICS

H36M_SUBJECTS = tuple(
    sorted({s for s, _ in H36M_EXTRINSICS}, key=lambda s: int(s[1:])))


def h36m_camera(subject: str, camera_id: str, image_size: int) -> Dict:
    """The real H36M camera of a subject, resized to a square image.

    The 1000x1000 (or 1000x1002) frame is resampled by ``image_size / 1000``
    (focal lengths and principal point scale, the 2 extra rows of the
    1002-row cameras are cropped off); distortion coefficients act on
    normalised coordinates and are kept.

    Args:
        subject (str): ``'S1'`` ... ``'S11'``.
        camera_id (str): One of :data:`H36M_CAMERA_IDS`.
        image_size (int): Width and height of the rendered images.

    Returns:
        dict: A ``cameras.pkl`` record.
    """
    if (subject, camera_id) not in H36M_EXTRINSICS:
        raise KeyError(f'No Human3.6M camera {camera_id!r} for subject '
                       f'{subject!r}; subjects are {H36M_SUBJECTS}, cameras '
                       f'{H36M_CAMERA_IDS}.')
    if int(image_size) < 16:
        raise ValueError(f'image_size must be >= 16, got {image_size}.')
    intr = H36M_INTRINSICS[camera_id]
    rot, trans = H36M_EXTRINSICS[(subject, camera_id)]
    s = image_size / 1000.0
    f = np.asarray(intr['f'], dtype=np.float64) * s
    # Resampling maps pixel edges to pixel edges: u' + .5 = s (u + .5).
    c = (np.asarray(intr['c'], dtype=np.float64) + 0.5) * s - 0.5
    return dict(
        R=np.asarray(rot, dtype=np.float64).reshape(3, 3),
        T=np.asarray(trans, dtype=np.float64).reshape(3, 1),
        f=f.reshape(2, 1),
        c=c.reshape(2, 1),
        k=np.asarray(intr['k'], dtype=np.float64).reshape(3, 1),
        p=np.asarray(intr['p'], dtype=np.float64).reshape(2, 1),
        w=int(image_size),
        h=int(image_size),
        name=intr['name'],
        id=camera_id)


def h36m_rig(subject: str, image_size: int) -> List[Dict]:
    """The four cameras of a subject, in H36M camera-id order."""
    return [h36m_camera(subject, cid, image_size) for cid in H36M_CAMERA_IDS]


def world_to_camera(points: np.ndarray, camera: Dict) -> np.ndarray:
    """World to camera frame, ``X_cam = R.T @ (X_world - T)``.

    Args:
        points (np.ndarray): (..., 3) world points.
        camera (dict): A camera record.

    Returns:
        np.ndarray: (..., 3) camera-frame points, same unit.
    """
    return (points - camera['T'].reshape(3)) @ camera['R']


def camera_to_world(points: np.ndarray, camera: Dict) -> np.ndarray:
    """Camera to world frame, ``X_world = R @ X_cam + T``; (..., 3)."""
    return points @ camera['R'].T + camera['T'].reshape(3)


def project_camera_points(points_cam: np.ndarray, camera: Dict) -> np.ndarray:
    """Project camera-frame points to distorted pixels.

    Args:
        points_cam (np.ndarray): (..., 3) with positive depth.
        camera (dict): A camera record.

    Returns:
        np.ndarray: (..., 2) pixel coordinates ``u, v``, float64.
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    intrinsics, distortion = _lens(camera)
    uv = project_points(
        torch.from_numpy(points_cam.reshape(-1, 3)), intrinsics, distortion)
    return uv.numpy().reshape(points_cam.shape[:-1] + (2, ))


def project_world_points(points: np.ndarray, camera: Dict) -> np.ndarray:
    """World points (..., 3) to distorted pixels (..., 2)."""
    return project_camera_points(world_to_camera(points, camera), camera)


def pixel_rays(camera: Dict) -> np.ndarray:
    """Camera-frame viewing rays through every pixel centre.

    Args:
        camera (dict): A camera record.

    Returns:
        np.ndarray: (h, w, 3) rays ``(x, y, 1)``: a point at depth ``Z``
        along a ray is ``Z * ray``. Float64; NaN where the lens model
        cannot be inverted (nowhere in the image of a real H36M camera).
    """
    v, u = np.mgrid[0:camera['h'], 0:camera['w']].astype(np.float64)
    uv = torch.from_numpy(np.stack([u, v], axis=-1).reshape(-1, 2))
    xy = undistort_points(uv, *_lens(camera)).numpy()
    xy = xy.reshape(camera['h'], camera['w'], 2)
    return np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)


def camera_center(camera: Dict) -> np.ndarray:
    """Optical centre in the world, (3,) metres."""
    return camera['T'].reshape(3).copy()


def intrinsics_matrix(camera: Dict) -> Tuple[np.ndarray, np.ndarray]:
    """Package form of a camera: ``intrinsics`` (3, 3), ``distortion`` (5,).

    Distortion is in OpenCV order ``[k1, k2, p1, p2, k3]``.
    """
    f, c = camera['f'].reshape(2), camera['c'].reshape(2)
    k, p = camera['k'].reshape(3), camera['p'].reshape(2)
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    return K, np.array([k[0], k[1], p[0], p[1], k[2]])


def _lens(camera: Dict) -> Tuple[torch.Tensor, torch.Tensor]:
    """``intrinsics`` (3, 3) and ``distortion`` (5,) as float64 tensors, for
    the lens model of :mod:`mmpose_epipolar.geometry.distortion`."""
    return tuple(
        torch.from_numpy(np.asarray(a, dtype=np.float64))
        for a in intrinsics_matrix(camera))
