# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Files written atomically: a half-written file never exists under its
name (it is written next to it and renamed when complete)."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'wb') -> Iterator[IO]:
    """Open ``path`` for writing, atomically.

    Args:
        path (str): The file; its folder must exist.
        mode (str): ``'wb'`` or ``'w'``.

    Raises:
        FileNotFoundError: The folder does not exist (named).
    """
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'output folder {folder!r} of {path!r} does '
                                'not exist')
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.partial')
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
