from .topdown_volumetric import TopdownVolumetricEstimator

__all__ = ['TopdownVolumetricEstimator']
