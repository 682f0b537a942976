from .compat import (
                     allow_mmengine_checkpoint_globals,
                     check_mmcv_ops,
                     patch_torchvision_ops,
)

__all__ = [
    'check_mmcv_ops', 'patch_torchvision_ops',
    'allow_mmengine_checkpoint_globals'
]
