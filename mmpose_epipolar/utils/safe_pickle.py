# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Restricted loading of files that come from other people.

Camera files (MMPose's ``preprocess_h36m.py`` writes ``cameras.pkl``),
prediction dumps (MMEngine's ``DumpResults``, behind ``tools/test.py
--dump``) and occluder banks are pickles, and a pickle can run any command
while it loads. :func:`load_pickle` admits only what those writers really
produce:

- builtin containers and numbers (``dict``, ``list``, ``tuple``, ``set``,
  ``frozenset``, ``bytearray``, ``complex``, ``OrderedDict``) and bytes
  (protocol 2 writes them as ``_codecs.encode(str, 'latin1')``);
- numpy arrays, scalars and dtypes (``numpy.core`` of numpy 1.x and
  ``numpy._core`` of numpy 2.x);
- torch tensors, which pickle as ``torch._utils._rebuild_tensor_v2`` of a
  storage serialised by ``torch.save``: the storage is read back by
  ``torch.load(weights_only=True)``, so tensor data pass through torch's own
  weights-only allow-list rather than the plain unpickler torch uses there.

Anything else is refused with :class:`RefusedGlobalError` naming the file and
the class. Empty, truncated or garbage files give :class:`PickleLoadError`
naming the file.
"""
import io
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

# Keep messages on one line and short: they end up in `error: ...` lines.
_MAX_REASON_CHARS = 200


class FileLoadError(ValueError):
    """A user-supplied file cannot be loaded: unreadable, truncated, not of
    the expected format, or refused as unsafe.

    Args:
        path (str): The file.
        message (str): One line naming the file.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class PickleLoadError(FileLoadError, pickle.UnpicklingError):
    """A pickle cannot be loaded."""


class RefusedGlobalError(PickleLoadError):
    """A pickle refers to a class or function outside the allow-list.

    Args:
        path (str): The file.
        global_name (str): ``module.name`` of the refused class or function.
        message (str): One line naming the file and the class.
    """

    def __init__(self, path: str, global_name: str, message: str) -> None:
        super().__init__(path, message)
        self.global_name = global_name


class CheckpointLoadError(FileLoadError):
    """A checkpoint cannot be loaded (raised by the loader that
    :func:`mmpose_epipolar.utils.compat.name_checkpoint_errors` installs).

    Args:
        path (str): The file.
        message (str): One line naming the file.
        global_name (str, optional): ``module.name`` of the class that
            weights-only loading refused, when that is the reason.
    """

    def __init__(self, path: str, message: str,
                 global_name: Optional[str] = None) -> None:
        super().__init__(path, message)
        self.global_name = global_name


def short_reason(err: BaseException, text: Optional[str] = None) -> str:
    """``Type: first sentence of the message`` of an exception, on one line.

    Args:
        err (BaseException): The exception.
        text (str, optional): The part of its message to use. Defaults to
            the whole message.
    """
    text = str(err) if text is None else text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].split('. ')[0] if lines else ''
    reason = f'{type(err).__name__}: {first}' if first else \
        type(err).__name__
    if len(reason) > _MAX_REASON_CHARS:
        reason = reason[:_MAX_REASON_CHARS - 3] + '...'
    return reason


def _latin1_encode(text: str, encoding: str = 'latin1') -> bytes:
    """``_codecs.encode`` as protocol 2 uses it for bytes, and nothing
    else: any other codec name is refused."""
    if encoding not in ('latin1', 'latin-1') or not isinstance(text, str):
        raise pickle.UnpicklingError(
            f'_codecs.encode only with latin1 and a str, got {encoding!r}')
    return text.encode('latin1')


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """``numpy.core.multiarray._reconstruct`` for plain arrays.

    numpy pickles an array as ``_reconstruct(ndarray, (0,), b'b')`` followed
    by ``__setstate__``, which sets shape, dtype and data. Always building
    the empty placeholder keeps a crafted ``shape`` from allocating memory.
    """
    core = np.core if hasattr(np, 'core') else np._core
    return core.multiarray._reconstruct(np.ndarray, (0,), dtype)


def _torch_storage_from_bytes(data: bytes) -> Any:
    """``torch.storage._load_from_bytes`` without code execution.

    torch's own version calls ``torch.load(weights_only=False)`` on the
    bytes; reading them weights-only applies torch's allow-list instead.
    """
    import torch
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError('a torch storage must be bytes, got '
                                     f'{type(data).__name__}')
    return torch.load(io.BytesIO(bytes(data)), map_location='cpu',
                      weights_only=True)


def _torch_rebuild_tensor(*args) -> Any:
    from torch._utils import _rebuild_tensor_v2
    return _rebuild_tensor_v2(*args)


def torch_refused_global(err: BaseException) -> Optional[str]:
    """The ``module.name`` that torch's weights-only loading refused, as
    its error message names it (``... GLOBAL posix.system ...``), or None.
    """
    match = re.search(r'GLOBAL ([\w.]+)', str(err))
    return match[1] if match else None


def _numpy_globals() -> Dict[Tuple[str, str], Any]:
    core = np.core if hasattr(np, 'core') else np._core
    allowed = {}
    for module in ('numpy.core', 'numpy._core'):
        allowed[(f'{module}.multiarray', '_reconstruct')] = _numpy_reconstruct
        allowed[(f'{module}.multiarray', 'scalar')] = core.multiarray.scalar
        # Protocol 5 pickles contiguous arrays through `_frombuffer`.
        allowed[(f'{module}.numeric', '_frombuffer')] = \
            core.numeric._frombuffer
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.uint16, np.uint32, np.uint64, np.float16, np.float32,
              np.float64, np.complex64, np.complex128, np.str_, np.bytes_,
              np.void, np.object_):
        cls = type(np.dtype(t))
        allowed[(cls.__module__, cls.__name__)] = cls
    return allowed


def _builtin_globals() -> Dict[Tuple[str, str], Any]:
    import collections
    allowed = {}
    # Protocols < 3 write `__builtin__`; the fix_imports mapping of the
    # default find_class does not apply to an overridden one.
    for module in ('builtins', '__builtin__'):
        for obj in (set, frozenset, bytes, bytearray, complex):
            allowed[(module, obj.__name__)] = obj
    allowed[('collections', 'OrderedDict')] = collections.OrderedDict
    allowed[('_codecs', 'encode')] = _latin1_encode
    return allowed


# torch is imported only when a file holds tensors.
_TORCH_STORAGE = ('torch.storage', '_load_from_bytes')
_TORCH_GLOBALS: Dict[Tuple[str, str], Callable] = {
    ('torch._utils', '_rebuild_tensor_v2'): _torch_rebuild_tensor,
    _TORCH_STORAGE: _torch_storage_from_bytes,
}

_ALLOWED: Optional[Dict[Tuple[str, str], Any]] = None

ALLOWED_SUMMARY = ('builtin containers and numbers, numpy arrays and dtypes, '
                   'torch tensors')


def allowed_globals() -> Dict[Tuple[str, str], Any]:
    """The ``(module, name)`` pairs :func:`load_pickle` admits, with the
    objects they resolve to."""
    global _ALLOWED
    if _ALLOWED is None:
        _ALLOWED = {**_builtin_globals(), **_numpy_globals(),
                    **_TORCH_GLOBALS}
    return _ALLOWED


def _check_array_state(state: Any) -> None:
    """Refuse an ndarray state whose data do not fill its shape.

    numpy allocates an object array of the full shape before reading the
    element list, so a crafted shape would exhaust memory.
    """
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        return  # numpy reports malformed states itself
    shape, dtype, _, data = state[-4:]
    if not isinstance(dtype, np.dtype):
        return
    try:
        size = 1
        for n in shape:
            size *= int(n)
    except (TypeError, ValueError):
        return
    if dtype.hasobject:
        ok = isinstance(data, list) and len(data) == size
    else:
        ok = isinstance(data, (bytes, bytearray)) and \
            len(data) == size * dtype.itemsize
    if not ok:
        raise pickle.UnpicklingError(
            f'an array of shape {tuple(shape)} and dtype {dtype} does not '
            'match the size of its data')


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with an allow-list.

    The pure-Python implementation keeps its memo in a dict; the C one
    grows an array to the largest memo index, so a 10-byte pickle naming
    index 2**31 makes it allocate 16 GiB.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path: str, what: str) -> None:
        super().__init__(file)
        self._path = path
        self._what = what

    def _refused(self, global_name: str) -> RefusedGlobalError:
        return RefusedGlobalError(
            self._path, global_name,
            f'{self._what} {self._path} refers to {global_name}, which is '
            f'refused: only {ALLOWED_SUMMARY} are loaded (a pickle that '
            'names other classes or functions can run code; do not open it '
            'with plain pickle)')

    def find_class(self, module: str, name: str) -> Any:
        obj = allowed_globals().get((module, name))
        if obj is None:
            raise self._refused(f'{module}.{name}')
        if (module, name) == _TORCH_STORAGE:
            return self._storage_from_bytes
        return obj

    def _storage_from_bytes(self, data: bytes) -> Any:
        """A tensor's storage; a class that torch's weights-only loading
        refuses inside it is reported like one refused here."""
        try:
            return _torch_storage_from_bytes(data)
        except pickle.UnpicklingError as err:
            refused = torch_refused_global(err)
            if refused is None:
                raise
            raise self._refused(refused) from err

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError('persistent ids are not supported')

    def _load_build(self) -> None:
        if isinstance(self.stack[-2], np.ndarray):
            _check_array_state(self.stack[-1])
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = _load_build


def load_pickle(path: PathLike, *, what: str = 'pickle file',
                name: Optional[str] = None) -> Any:
    """Load a pickle that may come from someone else, running no code.

    Args:
        path (str | PathLike): The file.
        what (str): What the file is, for messages (``'camera file'``).
        name (str, optional): The file's name in messages, when ``path`` is
            a local copy (``mmengine.fileio.get_local_path``). Defaults to
            ``path``.

    Returns:
        Any: The unpickled object: builtin containers and numbers, numpy
        arrays and dtypes, torch tensors (on the CPU).

    Raises:
        FileNotFoundError: If the file does not exist.
        RefusedGlobalError: If the file refers to any other class or
            function (named in the message, with the file).
        PickleLoadError: If the file is empty, truncated or not a pickle.
    """
    path = os.fspath(path)
    name = name or path
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} {name} does not exist')
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise PickleLoadError(
            name, f'cannot read {what} {name}: {short_reason(err)}') from err
    return loads_pickle(data, name, what=what)


def loads_pickle(data: bytes, path: str, *, what: str = 'pickle file'
                 ) -> Any:
    """:func:`load_pickle` of bytes already read from ``path``.

    Reading from memory bounds every length field by the real data size.

    Args:
        data (bytes): The pickle.
        path (str): Its file, for messages.
        what (str): What the file is, for messages.

    Returns:
        Any: The unpickled object (see :func:`load_pickle`).
    """
    if not data:
        raise PickleLoadError(path, f'{what} {path} is empty')
    try:
        return _RestrictedUnpickler(io.BytesIO(data), path, what).load()
    except RefusedGlobalError:
        raise
    # Garbage makes the unpickler raise nearly anything (EOFError,
    # IndexError, UnicodeDecodeError, MemoryError ...): all mean the same.
    except Exception as err:
        raise PickleLoadError(
            path, f'{what} {path} cannot be read as a pickle (empty, '
            f'truncated or not a pickle?): {short_reason(err)}') from err
