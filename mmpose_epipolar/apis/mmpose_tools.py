"""Run MMPose's own command-line tools with this plugin registered."""
import os.path as osp
import runpy
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..utils.distributed import release_process_group

# What CPU processes need from MMEngine's distributed setup: NCCL needs CUDA,
# and DDP refuses `device_ids` (MMEngine's default `[LOCAL_RANK]`) for a CPU
# module. `broadcast_buffers=False` is what MMEngine's default wrapper uses
# (SyncBuffersHook syncs the BN statistics instead).
CPU_DISTRIBUTED_SETTINGS = {
    'env_cfg.dist_cfg.backend': 'gloo',
    'model_wrapper_cfg.device_ids': None,
    'model_wrapper_cfg.broadcast_buffers': False,
}


def mmpose_tool_path(name: str) -> str:
    """Path of one of the tools MMPose ships in its package (``.mim/tools``).

    Args:
        name (str): Tool file name, e.g. ``'train.py'``.

    Returns:
        str: Absolute path of the tool script.

    Raises:
        FileNotFoundError: If the installed MMPose does not ship the tool.
    """
    import mmpose
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MMPose tool {path} not found: reinstall mmpose==1.3.2 from a '
            'wheel (it ships its tools under mmpose/.mim/tools).')
    return path


def _launcher(argv: Sequence[str]) -> str:
    """The value of ``--launcher`` in MMPose tool arguments (default
    ``'none'``)."""
    launcher = 'none'
    for i, arg in enumerate(argv):
        if arg == '--launcher' and i + 1 < len(argv):
            launcher = argv[i + 1]
        elif arg.startswith('--launcher='):
            launcher = arg.split('=', 1)[1]
    return launcher


def _is_cfg_options(arg: str) -> bool:
    """``--cfg-options`` or an abbreviation argparse accepts for it."""
    return len(arg) >= 5 and '--cfg-options'.startswith(arg)


def cpu_distributed_settings(launcher: str,
                             cuda_available: Optional[bool] = None
                             ) -> Dict[str, Any]:
    """Config settings a distributed run needs on a machine without CUDA.

    Args:
        launcher (str): MMEngine launcher: ``'none'``, ``'pytorch'``,
            ``'slurm'`` or ``'mpi'``.
        cuda_available (bool, optional): Override of
            ``torch.cuda.is_available()``, for tests.

    Returns:
        dict: ``Config.merge_from_dict`` options (gloo, DDP without
        ``device_ids``); empty with CUDA or without a launcher, where
        MMEngine's defaults are right.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available or launcher == 'none':
        return {}
    return dict(CPU_DISTRIBUTED_SETTINGS)


def cpu_distributed_options(argv: Sequence[str],
                            cuda_available: Optional[bool] = None
                            ) -> List[str]:
    """MMPose tool arguments with :func:`cpu_distributed_settings` added.

    With a launcher (``--launcher pytorch``, as ``tools/dist_train.sh``
    passes) and no CUDA device, the settings are added as
    ``--cfg-options``, before the user's own ``--cfg-options`` so that
    those still win key by key. Otherwise the arguments are unchanged.

    Args:
        argv (Sequence[str]): Arguments of MMPose's ``train.py`` or
            ``test.py`` (without the program name).
        cuda_available (bool, optional): Override of
            ``torch.cuda.is_available()``, for tests.

    Returns:
        list[str]: The arguments to run the tool with.
    """
    argv = list(argv)
    settings = cpu_distributed_settings(_launcher(argv), cuda_available)
    if not settings:
        return argv
    added = ['--cfg-options'] + [f'{k}={v}' for k, v in settings.items()]
    # Positional arguments must not follow ours: nargs='+' would take them.
    at = next((i for i, arg in enumerate(argv) if _is_cfg_options(arg)),
              len(argv))
    return argv[:at] + added + argv[at:]


def run_mmpose_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Register the plugin, then run MMPose's tool as ``__main__``.

    All of the tool's options keep working (``--work-dir``, ``--resume``,
    ``--amp``, ``--cfg-options``, ``--launcher pytorch`` for torchrun). A
    distributed run on a machine without CUDA gets gloo and a CPU DDP
    wrapper (:func:`cpu_distributed_options`).

    Args:
        name (str): Tool file name, e.g. ``'train.py'`` or ``'test.py'``.
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    import mmpose_epipolar  # noqa: F401  (compat fixes + registration)

    path = mmpose_tool_path(name)
    argv = cpu_distributed_options(sys.argv[1:] if argv is None else argv)
    sys.argv = [path] + argv
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        release_process_group()
