"""mmpose-epipolar: self-supervised monocular 3D human pose for MMPose.

Importing the package first applies the compatibility fixes of
``utils.compat`` (each a no-op where not needed), then registers every
component into MMPose's registries.
"""
from .utils.compat import (
                           allow_cpu_distributed,
                           allow_mmengine_checkpoint_globals,
                           check_mmcv_ops,
                           name_checkpoint_errors,
                           patch_torchvision_ops,
)

patch_torchvision_ops()
allow_mmengine_checkpoint_globals()
check_mmcv_ops()
name_checkpoint_errors()
allow_cpu_distributed()

from . import apis, codecs, datasets, engine, evaluation, geometry, models  # noqa: E402,F401,I001

__version__ = '0.1.0'
