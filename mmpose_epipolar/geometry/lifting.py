"""Metric camera-space 3D from image pixels, scale-free depth and the root's
metric depth (``docs/conventions.md``): what the estimator, the inference
API and the evaluation use to turn a prediction into millimetres."""
from typing import Optional

import numpy as np
import torch

from .depth_encoding import decode_relative_depth
from .distortion import undistort_points


def undistorted_pixels(keypoints: np.ndarray, intrinsics: np.ndarray,
                       distortion: Optional[np.ndarray]) -> np.ndarray:
    """Remove the lens distortion of image pixels, if any.

    Args:
        keypoints (np.ndarray): Distorted image pixels (..., K, 2).
        intrinsics (np.ndarray): Camera matrices (..., 3, 3).
        distortion (np.ndarray, optional): OpenCV ``[k1, k2, p1, p2, k3]``
            (..., 5). None or all zeros returns ``keypoints`` itself.

    Returns:
        np.ndarray: Undistorted pixels (..., K, 2), float64. Where the lens
        model cannot be inverted the pixel is kept as it is.
    """
    if distortion is None or not np.any(distortion):
        return keypoints
    pixels = undistort_points(
        torch.from_numpy(np.asarray(keypoints, np.float64)),
        torch.from_numpy(np.asarray(intrinsics, np.float64)),
        torch.from_numpy(np.asarray(distortion, np.float64)),
        normalized=False).numpy()
    return np.where(np.isfinite(pixels), pixels, keypoints)


def lift_to_camera(keypoints: np.ndarray,
                   depth: np.ndarray,
                   intrinsics: np.ndarray,
                   root_depth: np.ndarray,
                   distortion: Optional[np.ndarray] = None) -> np.ndarray:
    """Metric camera-space 3D from pixels, scale-free depth and root depth.

    ``Z`` by :func:`decode_relative_depth`, then ``X = (u - cx) Z / fx``,
    ``Y = (v - cy) Z / fy`` on undistorted pixels ``u, v``.

    Args:
        keypoints (np.ndarray): Image pixels (..., K, 2), distorted by the
            lens when ``distortion`` is given, else undistorted.
        depth (np.ndarray): Root-relative depth in image pixels (..., K).
        intrinsics (np.ndarray): Camera matrices (..., 3, 3).
        root_depth (np.ndarray): Metric depth of the root (...,), e.g. mm.
        distortion (np.ndarray, optional): OpenCV ``[k1, k2, p1, p2, k3]``
            (5,) of the camera that saw ``keypoints``.

    Returns:
        np.ndarray: Camera-frame points (..., K, 3) in the unit of
        ``root_depth``, float64.
    """
    keypoints = undistorted_pixels(keypoints, intrinsics, distortion)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    fx = intrinsics[..., 0, 0][..., None]
    fy = intrinsics[..., 1, 1][..., None]
    cx = intrinsics[..., 0, 2][..., None]
    cy = intrinsics[..., 1, 2][..., None]
    z = decode_relative_depth(
        np.asarray(depth, np.float64),
        0.5 * (intrinsics[..., 0, 0] + intrinsics[..., 1, 1]),
        np.asarray(root_depth, dtype=np.float64))
    x = (keypoints[..., 0] - cx) * z / fx
    y = (keypoints[..., 1] - cy) * z / fy
    return np.stack([x, y, z], axis=-1)
