from .wasp import WASP

__all__ = ['WASP']
