"""mmpose-epipolar: self-supervised monocular 3D human pose for MMPose.

Importing the package first applies the compatibility fixes of
``utils.compat`` (each a no-op where not needed) and has a distributed
run's process group released at exit (``utils.distributed``), then
registers every component into MMPose's registries.
"""
from .utils.compat import (
                           allow_cpu_distributed,
                           allow_mmengine_checkpoint_globals,
                           check_mmcv_ops,
                           name_checkpoint_errors,
                           patch_torchvision_ops,
)
from .utils.distributed import release_process_group_at_exit

patch_torchvision_ops()
allow_mmengine_checkpoint_globals()
check_mmcv_ops()
name_checkpoint_errors()
allow_cpu_distributed()
release_process_group_at_exit()

from . import apis, codecs, datasets, engine, evaluation, geometry, models  # noqa: E402,F401,I001

__version__ = '0.1.0'
