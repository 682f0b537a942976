"""Run MMPose's own command-line tools with this plugin registered."""
import os.path as osp
import runpy
import sys
from typing import List, Optional


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


def run_mmpose_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Register the plugin, then run MMPose's tool as ``__main__``.

    All of the tool's options keep working (``--work-dir``, ``--resume``,
    ``--amp``, ``--cfg-options``, ``--launcher pytorch`` for torchrun).

    Args:
        name (str): Tool file name, e.g. ``'train.py'`` or ``'test.py'``.
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    import mmpose_epipolar  # noqa: F401  (compat fixes + registration)

    path = mmpose_tool_path(name)
    sys.argv = [path] + list(sys.argv[1:] if argv is None else argv)
    runpy.run_path(path, run_name='__main__')
