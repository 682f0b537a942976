from .soft_argmax import peak_mass, soft_argmax_3d

__all__ = ['soft_argmax_3d', 'peak_mass']
