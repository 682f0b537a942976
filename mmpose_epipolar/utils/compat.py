"""Compatibility fixes applied when :mod:`mmpose_epipolar` is imported.

Each is a no-op where it is not needed. See ``README.md`` (Install) for the
measured facts behind them.
"""
import functools
import importlib.util
import os.path as osp

import torch

# Kept alive for the whole process: dropping the Library object would remove
# the operator schemas it defines.
_TORCHVISION_FRAGMENT = None


def _torchvision_extension_path() -> str:
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return ''
    folder = list(spec.submodule_search_locations)[0]
    for name in ('_C.so', '_C.pyd'):
        path = osp.join(folder, name)
        if osp.exists(path):
            return path
    return ''


def patch_torchvision_ops() -> bool:
    """Make ``import torchvision`` work with a CPU torch and a CUDA wheel.

    The PyPI torchvision wheel is built against CUDA torch; with the CPU
    torch wheel its ``_C`` library fails to load, and ``import torchvision``
    then raises ``operator torchvision::nms does not exist`` because its meta
    registrations assume the schemas exist. Defining the two schemas lets
    torchvision import; its own ``nms`` then raises a clear error, while
    mmcv's compiled ops serve mmdet and mmpose.

    Returns:
        bool: Whether the schemas had to be defined.
    """
    global _TORCHVISION_FRAGMENT
    if _TORCHVISION_FRAGMENT is not None:
        return True
    path = _torchvision_extension_path()
    if not path:
        return False
    try:
        torch.ops.load_library(path)
        return False
    except OSError:
        pass
    if hasattr(torch.ops.torchvision, 'nms'):
        return False
    fragment = torch.library.Library('torchvision', 'FRAGMENT')
    fragment.define(
        'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    fragment.define(
        'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    _TORCHVISION_FRAGMENT = fragment
    return True


def _history_buffer_state(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the statistics functions.

    MMEngine pickles the class-level table of statistics methods
    (``HistoryBuffer.min`` etc.) with every buffer; a function reference
    pickles as ``getattr(HistoryBuffer, 'min')``, which weights-only loading
    must refuse. ``__setstate__`` re-registers the defaults, so leaving the
    table out loses nothing.
    """
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def allow_mmengine_checkpoint_globals() -> bool:
    """Let ``torch.load(weights_only=True)`` read MMEngine checkpoints.

    torch >= 2.6 loads weights-only by default, and MMEngine 0.10.7 calls
    ``torch.load`` without the argument, so checkpoints saved by its Runner
    (message hub with ``HistoryBuffer``, numpy arrays and scalars, the LR
    schedulers' ``Counter``) fail to load. Allow-listing exactly those
    classes, and saving ``HistoryBuffer`` without function references, keeps
    loading weights-only and safe.

    Returns:
        bool: Whether globals were registered.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return False
    import collections

    import numpy as np
    from mmengine.logging import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_state
    core = np.core if hasattr(np, 'core') else np._core
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64,
        np.str_, np.object_)]
    add_safe_globals([
        HistoryBuffer, core.multiarray._reconstruct, core.multiarray.scalar,
        np.ndarray, np.dtype, collections.Counter, *dtype_classes
    ])
    return True


def _checkpoint_error(path: str, err: Exception) -> Exception:
    """One line naming the checkpoint and why it cannot be loaded."""
    from .safe_pickle import (
        CheckpointLoadError,
        short_reason,
        torch_refused_global,
    )
    text = str(err)
    refused = torch_refused_global(err)
    if refused:
        return CheckpointLoadError(
            path, f'checkpoint {path} refers to {refused}, which '
            'weights-only loading refuses (a checkpoint naming other '
            'classes or functions can run code; load it only if you trust '
            'its source)', global_name=refused)
    if osp.isfile(path) and osp.getsize(path) == 0:
        return CheckpointLoadError(path, f'checkpoint {path} is empty')
    # torch's weights-only unpickler puts the actual reason after a
    # paragraph about the weights_only default.
    detail = text.split('WeightsUnpickler error:', 1)
    reason = short_reason(err, detail[-1])
    # RuntimeErrors other than zip ones are about devices and the like.
    corrupt = not isinstance(err, RuntimeError) or 'zip archive' in text
    hint = ' (truncated, or not a PyTorch checkpoint?)' if corrupt else ''
    return CheckpointLoadError(
        path, f'checkpoint {path} cannot be loaded{hint}: {reason}')


_CHECKPOINT_ERRORS_NAMED = False


def name_checkpoint_errors() -> bool:
    """Make a local checkpoint that cannot be loaded fail in one line that
    names it.

    torch reports an empty, truncated or garbage checkpoint as a bare
    ``EOFError``, ``RuntimeError`` or ``UnpicklingError`` (several lines on
    weights-only defaults, no file name). MMEngine's local checkpoint loader
    is replaced by one that calls it and raises
    :class:`~mmpose_epipolar.utils.safe_pickle.CheckpointLoadError` (a
    ``ValueError``) instead; every path through
    ``mmengine.runner.load_checkpoint`` (``init_model``, ``init_detector``,
    ``load_from``, ``--resume``, ``teacher_checkpoint``) gets it. Loading
    itself is unchanged: torch's, weights-only.

    Returns:
        bool: Whether the loader was replaced (False when already done).
    """
    global _CHECKPOINT_ERRORS_NAMED
    if _CHECKPOINT_ERRORS_NAMED:
        return False
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

    # MMEngine logs the backend as the loader's name after `load_from_`.
    @functools.wraps(load_from_local)
    def load_from_local_named(filename, map_location=None):
        try:
            return load_from_local(filename, map_location)
        except FileNotFoundError:
            raise  # MMEngine's message names the file
        except Exception as err:
            raise _checkpoint_error(osp.expanduser(str(filename)),
                                    err) from err

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_named, force=True)
    _CHECKPOINT_ERRORS_NAMED = True
    return True


def check_mmcv_ops() -> None:
    """Fail loudly when mmcv was installed without its compiled ops.

    mmcv-lite or an ops-less build of mmcv lacks ``mmcv._ext``, which
    ``mmpose.models`` and ``mmdet.models`` import; the failure would
    otherwise surface far from its cause.

    Raises:
        ImportError: With the command that fixes the install.
    """
    try:
        import mmcv.ops  # noqa: F401
    except (ImportError, ModuleNotFoundError, OSError) as err:
        raise ImportError(
            'mmcv was installed without its compiled ops (mmcv._ext). '
            'Rebuild it with torch already installed: `pip uninstall -y mmcv '
            '&& pip cache remove mmcv && MMCV_WITH_OPS=1 pip install '
            '--no-build-isolation mmcv==2.1.0`, or run '
            '`bash tools/setup_env.sh`.') from err


def _set_device_without_cuda(device) -> None:
    """``torch.cuda.set_device`` where there is no CUDA device: nothing to
    select, so nothing to do."""


def allow_cpu_distributed() -> bool:
    """Let MMEngine's ``pytorch`` launcher start on a machine without CUDA.

    MMEngine 0.10.7's ``_init_dist_pytorch`` calls
    ``torch.cuda.set_device(LOCAL_RANK)`` unconditionally, which a CPU torch
    (or a CUDA torch without a device) refuses before the process group
    exists. Without CUDA there is no device to select, so the call is made
    a no-op; with CUDA nothing changes. The backend (gloo) and the DDP
    wrapper without ``device_ids`` that CPU processes also need are config
    settings, added by ``tools/train.py`` and ``tools/test.py``
    (:func:`~mmpose_epipolar.apis.mmpose_tools.cpu_distributed_options`).

    Returns:
        bool: Whether ``torch.cuda.set_device`` was replaced.
    """
    if torch.cuda.is_available():
        return False
    if torch.cuda.set_device is _set_device_without_cuda:
        return False
    torch.cuda.set_device = _set_device_without_cuda
    return True
