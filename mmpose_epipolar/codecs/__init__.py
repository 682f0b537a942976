from .volumetric_integral_label import (
                                        VolumetricIntegralLabel,
                                        depth_from_camera_points,
                                        lift_to_camera,
    undistorted_pixels,
)

__all__ = [
    'VolumetricIntegralLabel', 'depth_from_camera_points', 'lift_to_camera',
    'undistorted_pixels'
]
