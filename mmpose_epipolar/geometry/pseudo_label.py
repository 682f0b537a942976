"""Pseudo-label targets in the scale-free depth encoding of
docs/conventions.md, built on :func:`epipolar_triangulate`."""
from typing import Dict, Optional

import torch

from ._utils import ArrayLike, as_input_type, to_tensor
from .depth_encoding import encode_relative_depth
from .distortion import project_points
from .epipolar import epipolar_triangulate


def pseudo_label_targets(points: ArrayLike,
                         valid: ArrayLike,
                         rotation: ArrayLike,
                         translation: ArrayLike,
                         intrinsics: ArrayLike,
                         distortion: Optional[ArrayLike],
                         keypoints: ArrayLike,
                         reproj_thresh: float = 15.0,
                         min_valid_joints: int = 8,
                         root_index: int = 0) -> Dict[str, ArrayLike]:
    """Each view's training target from triangulated points and poses.

    ``keypoints_depth[j] = f_mean (Z[j] - Z[root]) / Z[root]`` in the view's
    camera frame (pixel units, invariant to the unknown global scale).

    A joint is visible (usable by the loss) when it was triangulated, lies
    in front of the view, and its reprojection error in this view is at
    most ``reproj_thresh`` pixels (a joint missing from this view's input
    keeps its triangulated label). A sample is valid when its root and at
    least ``min_valid_joints`` joints are visible.

    Args:
        points (Tensor | np.ndarray): (F, J, 3) in view 0's frame.
        valid (Tensor | np.ndarray): (F, J) bool.
        rotation (Tensor | np.ndarray): (P, V, 3, 3), P = 1 or F,
            ``X_v = R_v X_0 + t_v``.
        translation (Tensor | np.ndarray): (P, V, 3).
        intrinsics (Tensor | np.ndarray): (V, 3, 3).
        distortion (Tensor | np.ndarray, optional): (V, 5).
        keypoints (Tensor | np.ndarray): The input 2D, (F, V, J, 3).
        reproj_thresh (float): Pixels.
        min_valid_joints (int): Visible joints a valid sample needs.
        root_index (int): Root joint of the depth encoding.

    Returns:
        dict: Same array type as ``keypoints``. ``keypoints`` (F, V, J, 2)
        reprojected (distorted) pixels (0 where not triangulated),
        ``keypoints_depth`` (F, V, J) (0 where not visible),
        ``keypoints_visible`` (F, V, J) float 0/1 (all 0 for invalid
        samples), ``reproj_error`` (F, V, J) pixels (-1 where the input or
        the triangulated joint is missing), ``valid`` (F, V) bool.
    """
    x = to_tensor(points)
    ok = to_tensor(valid, dtype=torch.bool, device=x.device)
    rot = to_tensor(rotation, device=x.device)
    trans = to_tensor(translation, device=x.device)
    k = to_tensor(intrinsics, device=x.device)
    d = None if distortion is None else to_tensor(distortion,
                                                  device=x.device)
    kp = to_tensor(keypoints, device=x.device)
    xv = x[:, None] @ rot.transpose(-1, -2) + trans[:, :, None]  # (F,V,J,3)
    z = xv[..., 2]
    ok = ok[:, None] & (z > 0)
    safe = torch.where(ok[..., None], xv, torch.tensor([0.0, 0.0, 1.0]).to(x))
    pixels = project_points(safe, k[None], None if d is None else d[None])
    ok = ok & torch.isfinite(pixels).all(-1)
    pixels = torch.where(ok[..., None], pixels, torch.zeros_like(pixels))

    present = torch.isfinite(kp[..., :2]).all(-1) & (kp[..., 2] > 0)
    err = (pixels - torch.nan_to_num(kp[..., :2])).norm(dim=-1)
    measured = present & ok
    err = torch.where(measured, err, torch.full_like(err, -1.0))
    visible = ok & (~present | (err <= reproj_thresh))

    f_mean = k[:, :2].diagonal(dim1=-2, dim2=-1).mean(-1)  # (V,)
    root_ok = visible[..., root_index:root_index + 1]
    # Not finite where the root is not usable; such samples are masked.
    depth = encode_relative_depth(z, f_mean, root_index)
    sample_valid = root_ok[..., 0] & (visible.sum(-1) >= min_valid_joints)
    visible = visible & sample_valid[..., None]
    depth = torch.where(visible, depth, torch.zeros_like(depth))
    out = dict(
        keypoints=pixels,
        keypoints_depth=depth,
        keypoints_visible=visible.to(x.dtype),
        reproj_error=err,
        valid=sample_valid)
    return dict(zip(out, as_input_type(list(out.values()), keypoints)))


def make_pseudo_labels(keypoints: ArrayLike,
                       intrinsics: ArrayLike,
                       distortion: Optional[ArrayLike] = None,
                       pooled: bool = True,
                       reproj_thresh: float = 15.0,
                       min_valid_joints: int = 8,
                       root_index: int = 0,
                       **kwargs) -> Dict[str, ArrayLike]:
    """:func:`epipolar_triangulate` followed by
    :func:`pseudo_label_targets` for one synchronised camera set.

    Args:
        keypoints (Tensor | np.ndarray): (F, V, J, 3).
        intrinsics (Tensor | np.ndarray): (V, 3, 3).
        distortion (Tensor | np.ndarray, optional): (V, 5).
        pooled (bool): See :func:`epipolar_triangulate`.
        reproj_thresh (float): See :func:`pseudo_label_targets`.
        min_valid_joints (int): See :func:`pseudo_label_targets`.
        root_index (int): See :func:`pseudo_label_targets`.
        **kwargs: Passed to :func:`epipolar_triangulate`.

    Returns:
        dict: The fields of :func:`pseudo_label_targets` plus ``points``
        (F, J, 3), ``points_valid`` (F, J) and ``poses`` (a dict).
    """
    pts, ok, poses = epipolar_triangulate(
        keypoints, intrinsics, distortion, pooled, return_poses=True,
        **kwargs)
    out = pseudo_label_targets(pts, ok, poses['rotation'],
                               poses['translation'], intrinsics, distortion,
                               keypoints, reproj_thresh, min_valid_joints,
                               root_index)
    out.update(points=pts, points_valid=ok, poses=poses)
    return out
