from .coordinate_loss import MaskedSmoothL1Loss

__all__ = ['MaskedSmoothL1Loss']
