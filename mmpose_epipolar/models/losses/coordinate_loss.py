import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class MaskedSmoothL1Loss(nn.Module):
    """Smooth-L1 loss on coordinates with per-joint, per-axis weights.

    The weighted mean over entries with non-zero weight (Eq. 3 of the Pose
    ResNet paper with a validity mask). Targets where the weight is zero are
    replaced before the loss, so a NaN in an invalid pseudo-label never
    reaches the gradient, and a batch with no valid entry gives exactly 0.

    Args:
        beta (float): Transition point between the quadratic and the linear
            part, in normalised units (1/256 is one pixel of a 256 crop).
            Defaults to 0.01.
        loss_weight (float): Multiplier of the loss. Defaults to 1.
    """

    def __init__(self, beta: float = 0.01, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.beta = beta
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            output (Tensor): Predictions (B, K, C).
            target (Tensor): Targets (B, K, C).
            target_weight (Tensor): Weights (B, K, C) or (B, K).

        Returns:
            Tensor: Scalar loss.
        """
        if target_weight.ndim == output.ndim - 1:
            target_weight = target_weight.unsqueeze(-1).expand_as(output)
        active = (target_weight > 0) & torch.isfinite(target)
        weight = torch.where(active, target_weight,
                             torch.zeros_like(target_weight))
        safe_target = torch.where(active, target, output.detach())
        loss = F.smooth_l1_loss(
            output, safe_target, reduction='none', beta=self.beta)
        total = (loss * weight).sum()
        return self.loss_weight * total / weight.sum().clamp(min=1.0)
