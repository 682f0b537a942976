import copy
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.runner.checkpoint import load_checkpoint
from mmpose.registry import MODELS
from mmpose.structures.bbox import get_warp_matrix
from mmpose.utils.typing import ConfigType, SampleList
from torch import Tensor

from ...geometry import make_pseudo_labels
from ..utils import peak_mass
from .topdown_volumetric import TopdownVolumetricEstimator


def _rotation(meta: dict) -> float:
    rot = meta.get('bbox_rotation', 0.0)
    return float(np.asarray(rot).reshape(-1)[0]) if np.size(rot) else 0.0


def crop_to_image(keypoints: np.ndarray, meta: dict) -> np.ndarray:
    """Map crop pixels back to the original (unflipped) image.

    Inverts ``TopdownAffine`` (centre, scale, rotation from the sample's
    metainfo) and, for a flipped sample, ``RandomFlip``: x is mirrored and
    left/right joints are swapped back, so joint ``j`` is the anatomical
    joint ``j`` of the camera's own image.

    Args:
        keypoints (np.ndarray): Crop pixels (J, 2).
        meta (dict): ``input_center``, ``input_scale``, ``input_size``,
            optionally ``bbox_rotation``, ``flip``, ``flip_indices`` and
            ``ori_shape`` (h, w).

    Returns:
        np.ndarray: Image pixels (J, 2).
    """
    warp = get_warp_matrix(
        np.asarray(meta['input_center'], np.float32).reshape(2),
        np.asarray(meta['input_scale'], np.float32).reshape(2),
        _rotation(meta), tuple(meta['input_size']), inv=True)
    points = keypoints @ warp[:, :2].T + warp[:, 2]
    if meta.get('flip', False):
        points = points[list(meta['flip_indices'])]
        points[:, 0] = meta['ori_shape'][1] - 1 - points[:, 0]
    return points


def image_to_crop(keypoints: np.ndarray, meta: dict) -> np.ndarray:
    """Inverse of :func:`crop_to_image`: (J, 2) image -> crop pixels."""
    points = np.array(keypoints, dtype=np.float64)
    if meta.get('flip', False):
        points[:, 0] = meta['ori_shape'][1] - 1 - points[:, 0]
        points = points[list(meta['flip_indices'])]
    warp = get_warp_matrix(
        np.asarray(meta['input_center'], np.float32).reshape(2),
        np.asarray(meta['input_scale'], np.float32).reshape(2),
        _rotation(meta), tuple(meta['input_size']))
    return points @ warp[:, :2].T + warp[:, 2]


@MODELS.register_module()
class EpipolarSelfSupEstimator(TopdownVolumetricEstimator):
    """Online self-supervised training (EpipolarPose, Figure 1).

    A frozen 2D branch (the stage-1 network) predicts 2D joints on every
    view of each multi-view batch; the epipolar engine triangulates each
    synchronous view group on the fly (no ground truth, no extrinsics; the
    pose of each camera pair is estimated from that frame, the paper's
    per-frame way); the triangulated pose, reprojected into every view and
    expressed in the codec's scale-free encoding, is the 3D target of the
    trainable branch. Batches must hold whole view groups
    (``ViewGroupBatchSampler``) and each sample's ``camera_param``,
    ``view_group`` and crop metainfo (``input_center``, ``input_scale``,
    ``bbox_rotation``, ``flip``, ``ori_shape``).

    Invalid triangulations (degenerate views, reprojection error above the
    threshold) get zero weight, so a batch without any valid label gives a
    zero loss.

    Args:
        teacher_checkpoint (str, optional): Weights of the frozen 2D branch;
            None keeps its initial weights (for tests).
        pseudo_label_cfg (dict): Arguments of
            :func:`mmpose_epipolar.geometry.make_pseudo_labels`
            (``pooled``, ``reproj_thresh``, ``min_valid_joints``).
        **kwargs: Arguments of :class:`TopdownVolumetricEstimator`.
    """

    def __init__(self,
                 *args,
                 teacher_checkpoint: Optional[str] = None,
                 pseudo_label_cfg: ConfigType = dict(
                     pooled=False, reproj_thresh=15.0, min_valid_joints=8),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pseudo_label_cfg = dict(pseudo_label_cfg)
        self.teacher_checkpoint = teacher_checkpoint
        # Not a registered submodule: it is never trained, never saved.
        self._teacher = [None]

    @property
    def teacher(self) -> TopdownVolumetricEstimator:
        """The frozen 2D branch, built on first use from this network's
        architecture and the teacher checkpoint."""
        if self._teacher[0] is None:
            teacher = copy.deepcopy(self)
            teacher._teacher = [None]
            if self.teacher_checkpoint:
                load_checkpoint(
                    teacher, self.teacher_checkpoint, map_location='cpu')
            teacher.eval()
            teacher.requires_grad_(False)
            self._teacher[0] = teacher
        return self._teacher[0]

    def train(self, mode: bool = True):
        super().train(mode)
        if self._teacher[0] is not None:
            self._teacher[0].eval()
        return self

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Triangulate targets from the frozen branch, then the 3D loss.

        Args:
            inputs (Tensor): Crops (B, 3, H, W) of whole view groups.
            data_samples (list[PoseDataSample]): Their samples.

        Returns:
            dict: ``loss_kpt`` and ``acc_pose`` of the trainable branch, and
            ``pseudo_valid``, the fraction of views with a valid label.
        """
        labels, weights = self.online_targets(inputs, data_samples)
        coords, heatmaps, depth = self.head.forward_with_depth(
            self.extract_feat(inputs))
        losses = self.head.loss_from_coords(coords, labels.to(coords),
                                            weights.to(coords), heatmaps,
                                            depth)
        valid = (weights[..., 0] > 0).any(dim=-1).float().mean()
        losses['pseudo_valid'] = valid.to(coords.device)
        return losses

    @torch.no_grad()
    def predict_2d(self, inputs: Tensor,
                   data_samples: SampleList) -> Tuple[np.ndarray, np.ndarray]:
        """The frozen branch's 2D joints in each view's image.

        Returns:
            tuple: ``keypoints`` (B, J, 2) image pixels and ``scores``
            (B, J).
        """
        teacher = self.teacher.to(inputs.device)
        coords, heatmaps = teacher.head.forward(teacher.extract_feat(inputs))
        crop, _ = self.head.decoder.decode(coords.cpu().numpy())
        scores = peak_mass(heatmaps).cpu().numpy()
        # float32 like the predictions tools/test.py dumps for the offline
        # path, so both paths triangulate identical inputs.
        keypoints = np.stack([
            crop_to_image(crop[i, :, :2], sample.metainfo)
            for i, sample in enumerate(data_samples)
        ]).astype(np.float32)
        return keypoints, scores

    def online_targets(self, inputs: Tensor,
                       data_samples: SampleList) -> Tuple[Tensor, Tensor]:
        """Encoded pseudo-labels (B, J, 3) and per-axis weights (B, J, 3)."""
        keypoints, scores = self.predict_2d(inputs, data_samples)
        num, joints = keypoints.shape[:2]
        targets = np.zeros((num, joints, 3), np.float32)
        visible = np.zeros((num, joints), np.float32)
        for members in self._view_groups(data_samples).values():
            if len(members) < 2:
                continue
            self._triangulate_group(members, keypoints, scores,
                                    data_samples, targets, visible)
        labels, weights = [], []
        for i, sample in enumerate(data_samples):
            crop = image_to_crop(targets[i, :, :2], sample.metainfo)
            keypoints_crop = np.concatenate([crop, targets[i, :, 2:]], -1)
            encoded = self.head.decoder.encode(
                keypoints_crop[None], visible[i][None],
                bbox_scale=np.asarray(sample.metainfo['input_scale'],
                                      np.float32).reshape(1, 2))
            labels.append(encoded['keypoint_labels'])
            weights.append(encoded['keypoint_weights'])
        return (torch.from_numpy(np.concatenate(labels)),
                torch.from_numpy(np.concatenate(weights)))

    @staticmethod
    def _view_groups(data_samples: SampleList) -> Dict[int, List[int]]:
        groups = defaultdict(list)
        for i, sample in enumerate(data_samples):
            groups[int(sample.metainfo['view_group'])].append(i)
        return groups

    def _triangulate_group(self, members: List[int], keypoints: np.ndarray,
                           scores: np.ndarray, data_samples: SampleList,
                           targets: np.ndarray, visible: np.ndarray) -> None:
        cams = [data_samples[i].metainfo['camera_param'] for i in members]
        observed = np.concatenate(
            [keypoints[members], scores[members][..., None]], axis=-1)
        result = make_pseudo_labels(
            observed[None],
            np.stack([np.asarray(c['intrinsics'], np.float64) for c in cams]),
            np.stack([np.asarray(c['distortion'], np.float64) for c in cams]),
            **self.pseudo_label_cfg)
        targets[members, :, :2] = np.asarray(result['keypoints'])[0]
        targets[members, :, 2] = np.asarray(result['keypoints_depth'])[0]
        visible[members] = np.asarray(result['keypoints_visible'])[0]
