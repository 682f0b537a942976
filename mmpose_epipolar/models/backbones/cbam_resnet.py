from typing import Sequence, Tuple

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS
from torch import Tensor

from .cbam import CBAM

CBAM_POSITIONS = ('before_layer1', 'after_layer4')


@MODELS.register_module()
class CBAMResNet(ResNet):
    """ResNet with CBAM attention blocks, the Pose ResNet backbone.

    The ResNet part is MMPose's :class:`ResNet` unchanged, so its state-dict
    keys are the standard ones and ImageNet or MMPose ResNet checkpoints load
    with only the ``cbam_*`` weights missing.

    Args:
        depth (int): ResNet depth, one of 18, 34, 50, 101, 152.
        cbam_positions (Sequence[str]): Where to insert CBAM blocks, a subset
            of ``('before_layer1', 'after_layer4')``. An empty sequence gives
            a plain ResNet (for the ablations). Defaults to both.
        cbam_reduction (int): Reduction ratio of the channel MLP.
            Defaults to 16.
        **kwargs: Other arguments of :class:`mmpose.models.ResNet`. With
            ``frozen_stages >= 1`` the CBAM block before layer1 is frozen
            with layer1 (it is that stage's input attention), so no
            gradient is computed below layer2.

    Example:
        >>> import torch
        >>> model = CBAMResNet(depth=50)
        >>> model(torch.rand(1, 3, 256, 256))[-1].shape
        torch.Size([1, 2048, 8, 8])
    """

    def __init__(self,
                 depth: int,
                 cbam_positions: Sequence[str] = CBAM_POSITIONS,
                 cbam_reduction: int = 16,
                 **kwargs) -> None:
        super().__init__(depth=depth, **kwargs)
        unknown = set(cbam_positions) - set(CBAM_POSITIONS)
        if unknown:
            raise ValueError(f'Unknown cbam_positions {sorted(unknown)}; '
                             f'choose from {CBAM_POSITIONS}')
        if 'after_layer4' in cbam_positions and self.num_stages != 4:
            raise ValueError('cbam after layer4 needs num_stages=4, got '
                             f'{self.num_stages}')
        self.cbam_positions = tuple(cbam_positions)
        if 'before_layer1' in self.cbam_positions:
            self.cbam_before_layer1 = CBAM(self.stem_channels, cbam_reduction)
        if 'after_layer4' in self.cbam_positions:
            self.cbam_after_layer4 = CBAM(self.feat_dim, cbam_reduction)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        # ResNet.__init__ calls this before the CBAM blocks exist.
        entry = getattr(self, 'cbam_before_layer1', None)
        if entry is not None and self.frozen_stages >= 1:
            entry.eval()
            for param in entry.parameters():
                param.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x (Tensor): Images of shape (B, 3, H, W).

        Returns:
            tuple[Tensor]: One feature map per ``out_indices`` entry; the last
            stage of ResNet-50 gives (B, 2048, H / 32, W / 32).
        """
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        if 'before_layer1' in self.cbam_positions:
            x = self.cbam_before_layer1(x)
        outs = []
        last = len(self.res_layers) - 1
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i == last and 'after_layer4' in self.cbam_positions:
                x = self.cbam_after_layer4(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
