from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import (
    ConfigType,
    OptConfigType,
    OptSampleList,
    Predictions,
)
from torch import Tensor

from ..utils import (
    gaussian_depth_marginals,
    gaussian_heatmaps,
    peak_mass,
    soft_argmax_3d,
)

IntSequence = Optional[Sequence[int]]


def flip_back_coords(coords: Tensor, flip_indices: Sequence[int],
                     input_width: int) -> Tensor:
    """Map predictions on a horizontally flipped crop back to the original.

    A flipped crop maps pixel column ``x`` to ``input_w - 1 - x``, which in
    normalised units ``x_n = x / input_w - 0.5`` is ``-x_n - 1 / input_w``.
    Depth and y are unchanged; left and right joints swap.

    Args:
        coords (Tensor): Normalised coordinates (B, J, 3) on flipped crops.
        flip_indices (Sequence[int]): Index of each joint's mirror joint.
        input_width (int): Crop width in pixels.

    Returns:
        Tensor: Normalised coordinates (B, J, 3) on the original crops.
    """
    flipped = coords[:, list(flip_indices)].clone()
    flipped[..., 0] = -flipped[..., 0] - 1.0 / input_width
    return flipped


@MODELS.register_module()
class VolumetricHeatmapHead(HeatmapHead):
    """Deconvolution head predicting a volumetric heatmap per joint, decoded
    by soft-argmax (integral regression, Sun et al. 2018) into (x, y, z).

    The deconvolution stack is MMPose's SimpleBaseline :class:`HeatmapHead`
    (so its deconv weights transfer); the final 1x1 conv outputs
    ``num_keypoints * depth_bins`` channels viewed as a (B, J, D, H, W)
    volume. The same head serves 2D training (MPII): the codec then gives
    zero z weights, so depth is marginalised by the soft-argmax and masked
    out of the loss; with ``depth_bins=1`` it is a plain 2D head, without
    the volume's cost, whose weights a 3D head loads into every depth bin.

    Args:
        in_channels (int): Input channels of the last feature map.
        num_keypoints (int): Number of joints J.
        depth_bins (int): Depth resolution D of the volume. Defaults to 64.
        deconv_out_channels (Sequence[int]): Deconv channels.
            Defaults to (256, 256, 256).
        deconv_kernel_sizes (Sequence[int]): Deconv kernels.
            Defaults to (4, 4, 4).
        beta (float): Inverse softmax temperature. Defaults to 1.
        axis_weights (Sequence[float]): Loss weight of x, y and z.
            Defaults to (1, 1, 1).
        loss (dict): Loss config. Defaults to :class:`MaskedSmoothL1Loss`.
        heatmap_loss (dict, optional): A divergence between the volume's
            marginals and Gaussians around the label (DSNT's regulariser,
            Nibali et al. 2018), e.g. MMPose's ``JSDiscretLoss``: on the
            depth-marginalised heatmap (B, J, H, W) and, where the label has
            depth, on the depth marginal (B, J, D). Averaged over joints, it
            is added to the coordinate loss as ``loss_heatmap``. It gives the
            soft-argmax a unimodal target: coordinates alone let a joint the
            network is unsure of settle on the mean of its answers (the
            midline, a flattened depth). Defaults to None (the paper's loss
            alone).
        heatmap_sigma (float): Standard deviation of those Gaussians in
            heatmap pixels and depth bins. Defaults to 1.
        heatmap_loss_weight (float): Multiplier of ``loss_heatmap``.
            Defaults to 1.
        decoder (dict, optional): Codec config
            (:class:`VolumetricIntegralLabel`).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_keypoints: int,
                 depth_bins: int = 64,
                 deconv_out_channels: IntSequence = (256, 256, 256),
                 deconv_kernel_sizes: IntSequence = (4, 4, 4),
                 beta: float = 1.0,
                 axis_weights: Sequence[float] = (1.0, 1.0, 1.0),
                 loss: ConfigType = dict(type='MaskedSmoothL1Loss'),
                 heatmap_loss: OptConfigType = None,
                 heatmap_sigma: float = 1.0,
                 heatmap_loss_weight: float = 1.0,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=num_keypoints * depth_bins,
            deconv_out_channels=deconv_out_channels,
            deconv_kernel_sizes=deconv_kernel_sizes,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)
        self.num_keypoints = num_keypoints
        self.depth_bins = depth_bins
        self.beta = beta
        self.heatmap_loss = (MODELS.build(heatmap_loss)
                             if heatmap_loss is not None else None)
        self.heatmap_sigma = heatmap_sigma
        self.heatmap_loss_weight = heatmap_loss_weight
        self.register_buffer(
            'axis_weights',
            torch.tensor(axis_weights, dtype=torch.float32),
            persistent=False)

    def _load_state_dict_pre_hook(self, state_dict, prefix, local_meta,
                                  *args, **kwargs):
        """MMPose's conversion of old :class:`HeatmapHead` checkpoints, and
        a 2D head's (``depth_bins=1``) final layer put in every depth bin
        of this one, so a 2D pre-training transfers whole.

        Each bin then has the 2D logits: the softmax over D x H x W has the
        2D model's heatmap as its depth marginal (the 2D predictions are
        the 2D model's) and a uniform depth, whose expectation is the
        volume's middle (the root's depth); the 3D training starts from
        there. A final layer of any other depth resolution is left to the
        loader's shape check.
        """
        super()._load_state_dict_pre_hook(state_dict, prefix, local_meta,
                                          *args, **kwargs)
        if self.depth_bins == 1 or getattr(self, 'final_layer', None) is None:
            return
        for name in ('weight', 'bias'):
            key = f'{prefix}final_layer.{name}'
            value = state_dict.get(key)
            if value is not None and value.shape[0] == self.num_keypoints:
                state_dict[key] = value.repeat_interleave(self.depth_bins, 0)

    def forward_volume(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Predict the volumetric heatmap logits.

        Args:
            feats (tuple[Tensor]): Features; the last is (B, C, h, w).

        Returns:
            Tensor: Logits of shape (B, J, D, H, W), float32 (also under
            bfloat16 autocast: the softmax over D x H x W bins and the
            expectations need float32's precision).
        """
        x = super().forward(feats)
        b, _, h, w = x.shape
        return x.view(b, self.num_keypoints, self.depth_bins, h, w).float()

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor, Tensor]:
        """Predict normalised joint coordinates.

        Args:
            feats (tuple[Tensor]): Features; the last is (B, C, h, w).

        Returns:
            tuple:
            - coords (Tensor): Normalised (x, y, z) of shape (B, J, 3).
            - heatmap_2d (Tensor): Depth-marginalised probabilities
              (B, J, H, W).
        """
        return soft_argmax_3d(self.forward_volume(feats), self.beta)

    def forward_with_depth(
            self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward`, plus the depth marginal (B, J, D)."""
        return soft_argmax_3d(
            self.forward_volume(feats), self.beta, depth_marginal=True)

    def predict(self,
                feats,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Predict keypoints, with optional flip test.

        Args:
            feats (tuple[Tensor] | list[tuple[Tensor]]): Features, or
                ``[features, features_of_flipped_input]`` for flip test.
            batch_data_samples (list[PoseDataSample]): The batch samples.
            test_cfg (dict): ``flip_test`` and ``output_heatmaps``.

        Returns:
            list[InstanceData] | tuple: Per sample ``keypoints`` (1, J, 3) in
            crop pixels (x, y, depth) and ``keypoint_scores`` (1, J); with
            ``output_heatmaps`` also the 2D heatmaps as ``PixelData``.
        """
        if test_cfg.get('flip_test', False):
            assert isinstance(feats, list) and len(feats) == 2
            metainfo = batch_data_samples[0].metainfo
            coords, heatmaps = self.forward(feats[0])
            coords_flip, heatmaps_flip = self.forward(feats[1])
            coords = 0.5 * (coords + flip_back_coords(
                coords_flip, metainfo['flip_indices'],
                metainfo['input_size'][0]))
            heatmaps = 0.5 * (heatmaps + heatmaps_flip[
                :, list(metainfo['flip_indices'])].flip(-1))
        else:
            coords, heatmaps = self.forward(feats)
        scores = to_numpy(peak_mass(heatmaps))
        keypoints, _ = self.decoder.decode(to_numpy(coords))

        preds = [
            InstanceData(
                keypoints=keypoints[i:i + 1],
                keypoint_scores=scores[i:i + 1])
            for i in range(keypoints.shape[0])
        ]
        if test_cfg.get('output_heatmaps', False):
            fields = [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
            return preds, fields
        return preds

    def loss(self,
             feats: Tuple[Tensor, ...],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Smooth-L1 loss between soft-argmax coordinates and labels.

        Args:
            feats (tuple[Tensor]): Features; the last is (B, C, h, w).
            batch_data_samples (list[PoseDataSample]): Samples whose
                ``gt_instance_labels`` hold ``keypoint_labels`` (1, J, 3) and
                ``keypoint_weights`` (1, J, 3).
            train_cfg (dict): Unused.

        Returns:
            dict: ``loss_kpt``, ``loss_heatmap`` (with ``heatmap_loss``) and
            ``acc_pose`` (2D PCK at 0.05 of the crop).
        """
        coords, heatmaps, depth = self.forward_with_depth(feats)
        labels, weights = self.collect_labels(batch_data_samples)
        return self.loss_from_coords(coords, labels, weights, heatmaps, depth)

    def collect_labels(
            self, batch_data_samples: OptSampleList) -> Tuple[Tensor, Tensor]:
        """Stack the batch's labels.

        Returns:
            tuple: ``labels`` (B, J, 3) and per-axis ``weights`` (B, J, 3).
        """
        labels = torch.cat([
            d.gt_instance_labels.keypoint_labels for d in batch_data_samples
        ])
        weights = torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ])
        if weights.ndim == 2:
            weights = weights.unsqueeze(-1).expand_as(labels)
        return labels, weights

    def loss_from_coords(self,
                         coords: Tensor,
                         labels: Tensor,
                         weights: Tensor,
                         heatmaps: Optional[Tensor] = None,
                         depth: Optional[Tensor] = None) -> dict:
        """Loss and 2D accuracy of predicted against labelled coordinates.

        Args:
            coords (Tensor): Predictions (B, J, 3).
            labels (Tensor): Targets (B, J, 3).
            weights (Tensor): Per-axis weights (B, J, 3).
            heatmaps (Tensor, optional): Depth-marginalised heatmaps
                (B, J, H, W), for ``heatmap_loss``.
            depth (Tensor, optional): Depth marginals (B, J, D), for
                ``heatmap_loss``.

        Returns:
            dict: ``loss_kpt``, ``acc_pose`` and, with ``heatmap_loss`` and
            ``heatmaps``, ``loss_heatmap``.
        """
        weights = weights * self.axis_weights.to(weights)
        losses = dict(loss_kpt=self.loss_module(coords, labels, weights))
        if self.heatmap_loss is not None and heatmaps is not None:
            losses['loss_heatmap'] = self.heatmap_loss_from(
                heatmaps, labels, weights, depth)
        mask = to_numpy(weights[..., :2].amin(dim=-1)) > 0
        _, acc, _ = keypoint_pck_accuracy(
            pred=to_numpy(coords[..., :2]),
            gt=np.nan_to_num(to_numpy(labels[..., :2])),
            mask=mask,
            thr=0.05,
            norm_factor=np.ones((coords.shape[0], 2), dtype=np.float32))
        losses['acc_pose'] = torch.tensor(acc, device=coords.device)
        return losses

    def heatmap_loss_from(self,
                          heatmaps: Tensor,
                          labels: Tensor,
                          weights: Tensor,
                          depth: Optional[Tensor] = None) -> Tensor:
        """``heatmap_loss`` against Gaussians at the labels, mean per joint.

        Args:
            heatmaps (Tensor): Depth-marginalised heatmaps (B, J, H, W).
            labels (Tensor): Targets (B, J, 3); non-finite ones are masked.
            weights (Tensor): Per-axis weights (B, J, 3).
            depth (Tensor, optional): Depth marginals (B, J, D); compared
                where the depth weight is positive.

        Returns:
            Tensor: Scalar loss; 0 when no joint has a label.
        """
        h, w = heatmaps.shape[-2:]
        finite = torch.isfinite(labels)
        in_2d = (weights[..., :2].amin(dim=-1) > 0) & finite[..., :2].all(-1)
        loss = self._divergence(
            heatmaps[in_2d],
            gaussian_heatmaps(labels[in_2d].detach(), (w, h),
                              self.heatmap_sigma))
        if depth is not None:
            in_depth = (weights[..., 2] > 0) & finite[..., 2]
            loss = loss + self._divergence(
                depth[in_depth],
                gaussian_depth_marginals(labels[in_depth][:, 2].detach(),
                                         depth.shape[-1], self.heatmap_sigma))
        return self.heatmap_loss_weight * loss

    def _divergence(self, pred: Tensor, target: Tensor) -> Tensor:
        """Mean ``heatmap_loss`` of N distributions (N, ...) vs targets.

        Only labelled joints are passed in: zeroing a distribution by a
        weight instead, as the loss's target_weight does, gives ``p log p``
        a NaN gradient at p = 0; the floor does the same for an underflowed
        softmax.
        """
        if pred.shape[0] == 0:
            return pred.sum() * 0.0
        # As one "batch" (1, N, ...): the loss sums over the N joints.
        pred = pred.clamp(min=1e-12)[None]
        total = self.heatmap_loss(pred, target[None],
                                  pred.new_ones(pred.shape[:2]))
        return total / pred.shape[1]

    @property
    def default_init_cfg(self):
        return [
            dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
                 std=0.001),
            dict(type='Constant', layer='BatchNorm2d', val=1)
        ]
