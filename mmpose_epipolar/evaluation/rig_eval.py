# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""How close a rig recovered from 2D alone is to a calibration's
extrinsics, and how well a rig explains the 2D.

The epipolar engine returns each view's pose relative to view 0 with the
baseline to its gauge view of length 1 (``X_v = R_v X_0 + t_v``); the
calibration's poses are turned into the same frame
(:func:`relative_extrinsics`) and compared per camera:

- rotation error: the angle of ``R_est R_cal^T`` (degrees);
- translation-direction error: the angle between ``t_est`` and ``t_cal``
  (degrees; the length is the unknown scale);
- 3D: the same 2D triangulated with each rig, ours mapped onto the
  calibrated points by a similarity, the median joint distance in the
  calibration's unit: per frame (Procrustes, as PA-MPJPE: the shape of
  each pose) and with one similarity for the whole sequence (stricter: a
  static rig has a single unknown similarity, and per-frame alignment
  absorbs the part of a rig error that moves every pose rigidly);
- reprojection: each rig's triangulation projected back into every view
  (median pixels against the 2D that made it).

Extrinsics serve only this report; they never make labels.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

from ..datasets.calibration import (
    CameraCalibration,
    camera_arrays,
    relative_extrinsics,
)
from ..geometry import (
    procrustes_align,
    project_points,
    projection_matrices,
    triangulate_dlt,
    undistort_points,
)
from ..geometry.procrustes import aligned_joint_errors


def rotation_error_deg(estimated: np.ndarray,
                       reference: np.ndarray) -> np.ndarray:
    """Angle of ``R_est R_ref^T``: (..., 3, 3), (..., 3, 3) -> (...)."""
    delta = estimated @ np.swapaxes(reference, -1, -2)
    cos = (np.trace(delta, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def direction_error_deg(estimated: np.ndarray,
                        reference: np.ndarray) -> np.ndarray:
    """Angle between vectors: (..., 3), (..., 3) -> (...); NaN for a zero
    vector (the reference view's translation)."""
    norm = np.linalg.norm(estimated, axis=-1) * \
        np.linalg.norm(reference, axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        cos = (estimated * reference).sum(-1) / norm
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def triangulate_with_rig(keypoints: np.ndarray, intrinsics: np.ndarray,
                         distortion: np.ndarray, rotation: np.ndarray,
                         translation: np.ndarray,
                         min_confidence: float = 0.0
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Calibrated triangulation: confidence-weighted linear DLT of
    undistorted points with known poses (the engine's own method).

    Args:
        keypoints (np.ndarray): (F, V, J, 3) pixels and confidence.
        intrinsics (np.ndarray): (V, 3, 3).
        distortion (np.ndarray): (V, 5).
        rotation (np.ndarray): (V, 3, 3), ``X_v = R_v X + t_v``.
        translation (np.ndarray): (V, 3).
        min_confidence (float): Confidence at most this means missing.

    Returns:
        tuple: ``points`` (F, J, 3) in the rig's frame and ``valid`` (F, J)
        bool.
    """
    kp = torch.as_tensor(np.asarray(keypoints, np.float64))
    nf, nv, nj, _ = kp.shape
    xy = kp[..., :2].permute(1, 0, 2, 3).reshape(nv, nf * nj, 2)
    xn = undistort_points(torch.nan_to_num(xy), torch.as_tensor(intrinsics),
                          torch.as_tensor(distortion))
    xn = xn.reshape(nv, nf, nj, 2).permute(1, 0, 2, 3)
    conf = kp[..., 2]
    ok = torch.isfinite(kp).all(-1) & (conf > min_confidence) & \
        torch.isfinite(xn).all(-1)
    weights = torch.where(ok, conf, torch.zeros_like(conf))
    proj = projection_matrices(torch.as_tensor(rotation),
                               torch.as_tensor(translation))
    points, valid = triangulate_dlt(
        xn, proj.expand(nf, -1, -1, -1), weights, solver='linear')
    return points.numpy(), valid.numpy()


def reprojection_errors(keypoints: np.ndarray, points: np.ndarray,
                        valid: np.ndarray, intrinsics: np.ndarray,
                        distortion: np.ndarray, rotation: np.ndarray,
                        translation: np.ndarray,
                        min_confidence: float = 0.0) -> np.ndarray:
    """Pixel distance of each triangulated joint, projected into each
    view, to that view's 2D.

    Returns:
        np.ndarray: (F, V, J), NaN where the joint is not valid or the
        view has no 2D for it.
    """
    pts = torch.as_tensor(points)[:, None]  # (F, 1, J, 3)
    pix = project_points(pts, torch.as_tensor(intrinsics)[None],
                         torch.as_tensor(distortion)[None],
                         torch.as_tensor(rotation)[None],
                         torch.as_tensor(translation)[None]).numpy()
    err = np.linalg.norm(pix - keypoints[..., :2], axis=-1)
    seen = np.isfinite(keypoints).all(-1) & \
        (keypoints[..., 2] > min_confidence)
    return np.where(valid[:, None] & seen & np.isfinite(err), err, np.nan)


def rig_report(keypoints: np.ndarray,
               calibration: Sequence[CameraCalibration],
               rotation: np.ndarray, translation: np.ndarray,
               valid_views: np.ndarray,
               min_confidence: float = 0.0) -> Dict:
    """Compare a recovered rig with a calibration's extrinsics on the 2D
    that made it.

    Args:
        keypoints (np.ndarray): (F, V, J, 3) the 2D of the V cameras.
        calibration (Sequence[CameraCalibration]): The V cameras, with
            extrinsics (the reference) and the intrinsics used.
        rotation (np.ndarray): Recovered (V, 3, 3), relative to view 0.
        translation (np.ndarray): Recovered (V, 3), any scale.
        valid_views (np.ndarray): (V,) bool, the posed views.
        min_confidence (float): Confidence at most this means missing.

    Returns:
        dict: ``cameras``; per camera ``rotation_deg`` and
        ``translation_deg`` (V,) (NaN for view 0 and unposed views);
        ``distance_3d`` (median, in the calibration's unit, after a
        Procrustes alignment per frame), ``distance_3d_global`` (after one
        similarity for all frames), ``scale`` (of that similarity:
        calibration units per recovered unit); ``reproj_px`` and
        ``reproj_px_calibrated`` (medians over views and joints, each rig
        reprojecting its own triangulation) and their per-camera medians
        ``reproj_px_per_camera``, ``reproj_px_per_camera_calibrated``;
        ``joints`` (joints valid under both rigs).
    """
    kp = np.asarray(keypoints, np.float64)
    intrinsics, distortion = camera_arrays(calibration)
    cal_rot, cal_trans = relative_extrinsics(calibration, 0)
    posed = np.asarray(valid_views, bool).copy()
    posed[0] = False  # view 0 is the identity in both rigs
    rot_err = np.where(posed, rotation_error_deg(rotation, cal_rot), np.nan)
    dir_err = np.where(posed, direction_error_deg(translation, cal_trans),
                       np.nan)
    views = np.asarray(valid_views, bool)
    ours, ours_ok = triangulate_with_rig(
        kp[:, views], intrinsics[views], distortion[views], rotation[views],
        translation[views], min_confidence)
    ref, ref_ok = triangulate_with_rig(
        kp[:, views], intrinsics[views], distortion[views], cal_rot[views],
        cal_trans[views], min_confidence)
    both = ours_ok & ref_ok
    aligned, scale, _, _ = procrustes_align(
        torch.as_tensor(ours[both]), torch.as_tensor(ref[both]))
    distance = np.linalg.norm(aligned.numpy() - ref[both], axis=-1)
    per_frame, counted = aligned_joint_errors(
        torch.as_tensor(ours), torch.as_tensor(ref), torch.as_tensor(both))
    per_frame = per_frame.numpy()[counted.numpy()]
    err_ours = reprojection_errors(
        kp[:, views], ours, both, intrinsics[views], distortion[views],
        rotation[views], translation[views], min_confidence)
    err_ref = reprojection_errors(
        kp[:, views], ref, both, intrinsics[views], distortion[views],
        cal_rot[views], cal_trans[views], min_confidence)
    names = [c.name for c in calibration]
    used = [n for n, v in zip(names, views) if v]
    return dict(
        cameras=names,
        rotation_deg=rot_err,
        translation_deg=dir_err,
        distance_3d=float(np.median(per_frame)) if per_frame.size
        else np.nan,
        distance_3d_global=float(np.median(distance)) if distance.size
        else np.nan,
        scale=float(scale),
        reproj_px=float(np.nanmedian(err_ours)),
        reproj_px_calibrated=float(np.nanmedian(err_ref)),
        reproj_px_per_camera=dict(zip(used, np.nanmedian(
            err_ours, axis=(0, 2)).tolist())),
        reproj_px_per_camera_calibrated=dict(zip(used, np.nanmedian(
            err_ref, axis=(0, 2)).tolist())),
        joints=int(both.sum()))
