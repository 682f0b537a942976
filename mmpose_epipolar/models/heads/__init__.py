from .volumetric_heatmap_head import VolumetricHeatmapHead, flip_back_coords

__all__ = ['VolumetricHeatmapHead', 'flip_back_coords']
