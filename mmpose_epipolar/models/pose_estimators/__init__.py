from .epipolar_selfsup import (
                               EpipolarSelfSupEstimator,
                               crop_to_image,
                               image_to_crop,
)
from .topdown_volumetric import TopdownVolumetricEstimator

__all__ = [
    'TopdownVolumetricEstimator', 'EpipolarSelfSupEstimator',
    'crop_to_image', 'image_to_crop'
]
