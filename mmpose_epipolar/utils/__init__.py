from .compat import (
                     allow_cpu_distributed,
                     allow_mmengine_checkpoint_globals,
                     check_mmcv_ops,
                     name_checkpoint_errors,
                     patch_torchvision_ops,
)
from .cpu import (
                  cpu_bf16_kernels,
                  cpu_has_native_bf16,
                  cpu_summary,
                  describe_cpu,
                  onednn_isa_cap,
)
from .distributed import release_process_group, release_process_group_at_exit
from .safe_pickle import (
                          CheckpointLoadError,
                          FileLoadError,
                          PickleLoadError,
                          RefusedGlobalError,
                          load_pickle,
)

__all__ = [
    'check_mmcv_ops', 'patch_torchvision_ops',
    'allow_mmengine_checkpoint_globals', 'name_checkpoint_errors',
    'allow_cpu_distributed', 'cpu_has_native_bf16', 'cpu_bf16_kernels',
    'cpu_summary', 'describe_cpu', 'onednn_isa_cap',
    'release_process_group', 'release_process_group_at_exit',
    'load_pickle', 'FileLoadError', 'PickleLoadError',
    'RefusedGlobalError', 'CheckpointLoadError'
]
