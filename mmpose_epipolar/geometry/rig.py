"""The data passed between the stages of :func:`epipolar_triangulate`:
normalised observations, pairwise relative poses and the camera rig."""
from dataclasses import dataclass
from typing import Dict

import torch
from torch import Tensor


@dataclass(frozen=True)
class Views:
    """Undistorted observations of one synchronised camera set.

    Args:
        points (Tensor): Normalised coordinates ``K^-1 x`` (F, V, J, 2),
            0 where missing.
        weights (Tensor): Confidences (F, V, J), 0 where missing.
        intrinsics (Tensor): ``K`` (V, 3, 3).
    """
    points: Tensor
    weights: Tensor
    intrinsics: Tensor

    @property
    def num_frames(self) -> int:
        return self.points.shape[0]

    @property
    def num_views(self) -> int:
        return self.points.shape[1]

    @property
    def num_joints(self) -> int:
        return self.points.shape[2]

    @property
    def focal(self) -> float:
        """Mean focal length in pixels: the unit of pixel thresholds."""
        return float(self.intrinsics[:, :2].diagonal(dim1=-2,
                                                      dim2=-1).mean())


@dataclass(frozen=True)
class PairPoses:
    """Relative poses of the view pairs (0, k), k = 1 .. V - 1.

    Args:
        rotation (Tensor): (P, V - 1, 3, 3), ``X_k = R X_0 + t``.
        translation (Tensor): Unit ``t`` (P, V - 1, 3).
        valid (Tensor): (P, V - 1) bool.
        quality (Tensor): Conditioning (P, V - 1): inlier support times the
            median sine of the ray angle; 0 where invalid.
    """
    rotation: Tensor
    translation: Tensor
    valid: Tensor
    quality: Tensor


@dataclass(frozen=True)
class Rig:
    """Poses of every view relative to view 0, in one gauge.

    P = 1 for a static rig (pooled mode), F for one rig per frame.

    Args:
        rotation (Tensor): ``R_v`` (P, V, 3, 3), ``X_v = R_v X_0 + t_v``,
            view 0 the identity.
        translation (Tensor): ``t_v`` (P, V, 3).
        valid (Tensor): Posed views (P, V) bool.
        gauge (Tensor): (P,) long: the view whose baseline to view 0 has
            length 1 (the reference pair's second view).
    """
    rotation: Tensor
    translation: Tensor
    valid: Tensor
    gauge: Tensor

    def frame_pose_index(self, num_frames: int) -> Tensor:
        """The pose set of each of ``num_frames`` frames, (F,) long."""
        device = self.rotation.device
        if self.rotation.shape[0] == 1:
            return torch.zeros(num_frames, dtype=torch.long, device=device)
        return torch.arange(num_frames, device=device)

    def as_dict(self) -> Dict[str, Tensor]:
        """``rotation``, ``translation``, ``valid`` and ``gauge``."""
        return dict(rotation=self.rotation, translation=self.translation,
                    valid=self.valid, gauge=self.gauge)
