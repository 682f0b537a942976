from .volumetric_integral_label import VolumetricIntegralLabel

__all__ = ['VolumetricIntegralLabel']
