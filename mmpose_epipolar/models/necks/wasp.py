from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from torch import Tensor


@MODELS.register_module()
class WASP(BaseModule):
    """Waterfall Atrous Spatial Pooling (Artacho and Savakis, UniPose, 2020).

    A cascade ("waterfall") of 3x3 atrous convolutions in which every branch
    takes the previous branch's output, so each branch sees a larger field of
    view than the last, plus a global-average-pooling branch. The branch
    outputs are concatenated and fused by a 1x1 convolution.

    UniPose uses rates (6, 12, 18, 24) on stride-8 features of about 46 x 46;
    scaled to the stride-32 ResNet output (8 x 8 at 256 x 256 input) that is
    (1, 2, 3, 4): the largest rate spans the whole map.

    Args:
        in_channels (int): Input channels C_in.
        out_channels (int): Output channels C_out. Defaults to 2048, so the
            neck is a drop-in between ResNet-50 and a SimpleBaseline head.
        branch_channels (int): Channels of each branch. Defaults to 256.
        dilations (Sequence[int]): Rates of the cascaded atrous convolutions.
        dropout (float): Dropout probability after fusion. Defaults to 0.
        norm_cfg (dict): Normalisation layer config.
        act_cfg (dict): Activation layer config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 2048,
                 out_channels: int = 2048,
                 branch_channels: int = 256,
                 dilations: Sequence[int] = (1, 2, 3, 4),
                 dropout: float = 0.0,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not dilations:
            raise ValueError('WASP needs at least one dilation rate')
        conv_kwargs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.waterfall = nn.ModuleList()
        channels = in_channels
        for rate in dilations:
            self.waterfall.append(
                ConvModule(
                    channels,
                    branch_channels,
                    3,
                    padding=rate,
                    dilation=rate,
                    **conv_kwargs))
            channels = branch_channels
        # No BN on the 1x1 pooled map: BN there fails for a batch of one.
        self.image_pool = ConvModule(
            in_channels, branch_channels, 1, norm_cfg=None, act_cfg=act_cfg)
        self.fuse = ConvModule(branch_channels * (len(dilations) + 1),
                               out_channels, 1, **conv_kwargs)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """Pool multi-scale context from the last feature map.

        Args:
            inputs (tuple[Tensor]): Backbone features; the last one, of shape
                (B, C_in, H, W), is pooled.

        Returns:
            tuple[Tensor]: ``inputs`` with the last map replaced by the pooled
            features of shape (B, C_out, H, W).
        """
        x = inputs[-1]
        branches = []
        y = x
        for conv in self.waterfall:
            y = conv(y)
            branches.append(y)
        pooled = self.image_pool(F.adaptive_avg_pool2d(x, 1))
        branches.append(pooled.expand(-1, -1, *x.shape[2:]))
        out = self.dropout(self.fuse(torch.cat(branches, dim=1)))
        return (*inputs[:-1], out)
