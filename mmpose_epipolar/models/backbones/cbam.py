"""Convolutional Block Attention Module (Woo et al., ECCV 2018)."""
import torch
import torch.nn as nn
from torch import Tensor


class ChannelGate(nn.Module):
    """Channel attention: avg- and max-pooled descriptors through one MLP.

    Args:
        channels (int): Number of input channels C.
        reduction (int): Reduction ratio of the hidden MLP layer.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Reweight channels.

        Args:
            x (Tensor): Features of shape (B, C, H, W).

        Returns:
            Tensor: Reweighted features of shape (B, C, H, W).
        """
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + peak)


class SpatialGate(nn.Module):
    """Spatial attention: channel-wise max and mean, conv, BN, sigmoid.

    Args:
        kernel_size (int): Size of the convolution kernel. Defaults to 7.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        """Reweight spatial positions.

        Args:
            x (Tensor): Features of shape (B, C, H, W).

        Returns:
            Tensor: Reweighted features of shape (B, C, H, W).
        """
        pooled = torch.cat(
            [x.amax(dim=1, keepdim=True),
             x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    """Channel gate followed by spatial gate.

    Args:
        channels (int): Number of input channels C.
        reduction (int): Reduction ratio of the channel MLP. Defaults to 16.
        spatial_kernel (int): Kernel size of the spatial gate. Defaults to 7.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 16,
                 spatial_kernel: int = 7) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate(spatial_kernel)

    def forward(self, x: Tensor) -> Tensor:
        """Apply channel then spatial attention.

        Args:
            x (Tensor): Features of shape (B, C, H, W).

        Returns:
            Tensor: Attended features of shape (B, C, H, W).
        """
        return self.spatial_gate(self.channel_gate(x))
