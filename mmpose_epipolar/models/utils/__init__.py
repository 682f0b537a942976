from .soft_argmax import (
    gaussian_depth_marginals,
    gaussian_heatmaps,
    peak_mass,
    soft_argmax_3d,
)

__all__ = [
    'soft_argmax_3d', 'peak_mass', 'gaussian_heatmaps',
    'gaussian_depth_marginals'
]
