from .cbam import CBAM, ChannelGate, SpatialGate
from .cbam_resnet import CBAMResNet

__all__ = ['CBAM', 'ChannelGate', 'SpatialGate', 'CBAMResNet']
