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
        mode (str): ``'wb'`` or ``'w'`` (UTF-8).

    Raises:
        FileNotFoundError: The folder does not exist (named).
    """
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'output folder {folder!r} of {path!r} does '
                                'not exist')
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.partial')
    try:
        with os.fdopen(fd, mode,
                       encoding=None if 'b' in mode else 'utf-8') as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_if_changed(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` atomically unless the file holds exactly
    that text already (a rerun then leaves the file, and its modification
    time, as they were).

    Returns:
        bool: Whether the file was written.
    """
    if osp.isfile(path):
        with open(path, encoding='utf-8', errors='replace') as f:
            if f.read() == text:
                return False
    with atomic_open(path, 'w') as f:
        f.write(text)
    return True
