# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""The pseudo-label file of docs/conventions.md: its keys, how images are
named in it, and how it is written and read.

An image's name in a label file is its path relative to the image root,
with ``/`` separators (``S1/S1_Directions_1.54138969/..._000001.jpg`` for
Human3.6M, ``<camera>/<file>`` for a recording). A sample is found by the
longest ``/``-separated suffix of its ``img_path`` that is a name of the
file, so the lookup works whatever the image root.
"""
import json
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from ..utils.atomic_file import atomic_open

#: Per-view arrays of a label file, each with N rows (``imgname`` (N,),
#: ``keypoints`` (N, J, 2), ``keypoints_depth`` (N, J),
#: ``keypoints_visible`` (N, J), ``reproj_error`` (N, J), ``valid`` (N,)).
LABEL_KEYS = ('imgname', 'keypoints', 'keypoints_depth', 'keypoints_visible',
              'reproj_error', 'valid')
#: Optional per-view arrays: ``input_keypoints`` (N, J, 3), the 2D (x, y,
#: score) the labels were triangulated from.
OPTIONAL_KEYS = ('input_keypoints', )


def image_key(img_path: str, img_root: Optional[str] = None,
              components: int = 3) -> str:
    """An image's name in a label file.

    Args:
        img_path (str): The image's path.
        img_root (str, optional): Strip this root (``osp.relpath``).
        components (int): Without a root, keep this many trailing path
            components (3: Human3.6M's ``subject/sequence.camera/file``).

    Returns:
        str: ``/``-separated name.
    """
    path = str(img_path).replace('\\', '/')
    if img_root:
        return osp.relpath(path, img_root).replace('\\', '/')
    return '/'.join(path.split('/')[-components:])


class ImageNameIndex:
    """Find the row of an image path among the names of a label file by
    the longest matching path suffix.

    Args:
        names (Sequence[str]): The file's ``imgname`` (N,).
    """

    def __init__(self, names: Sequence[str]) -> None:
        clean = [str(n).replace('\\', '/').strip('/') for n in names]
        self._rows = {n: i for i, n in enumerate(clean)}
        self._depth = max((n.count('/') + 1 for n in clean), default=0)

    def find(self, img_path: str) -> Optional[int]:
        """The row of ``img_path``, or None."""
        parts = str(img_path).replace('\\', '/').split('/')
        for depth in range(min(self._depth, len(parts)), 0, -1):
            row = self._rows.get('/'.join(parts[-depth:]))
            if row is not None:
                return row
        return None

    def __len__(self) -> int:
        return len(self._rows)


def save_pseudo_labels(path: str, labels: Mapping[str, np.ndarray],
                       meta: Mapping) -> str:
    """Write a label file atomically: a half-written file never exists
    under ``path`` (it is written next to it and renamed when complete).

    Args:
        path (str): Output file; written exactly there (no suffix added).
        labels (Mapping[str, np.ndarray]): Every key of :data:`LABEL_KEYS`
            and any of :data:`OPTIONAL_KEYS`.
        meta (Mapping): JSON-serialisable record of what made the labels.

    Returns:
        str: ``path``.
    """
    missing = [k for k in LABEL_KEYS if k not in labels]
    if missing:
        raise KeyError(f'pseudo labels for {path!r} lack {missing}')
    keys = LABEL_KEYS + tuple(k for k in OPTIONAL_KEYS if k in labels)
    with atomic_open(path) as f:
        np.savez_compressed(f, **{k: np.asarray(labels[k]) for k in keys},
                            meta=json.dumps(dict(meta)))
    return path


def open_npz(path: str, what: str) -> np.lib.npyio.NpzFile:
    """``np.load`` of an NPZ that never unpickles, with an error naming
    the file (``what`` says which file it is) when it is not an NPZ."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f'{what} {path!r} is not a readable NPZ '
                         f'({e})') from e


def load_pseudo_labels(path: str) -> Dict[str, np.ndarray]:
    """Read a label file (never unpickles).

    Returns:
        dict: The arrays of :data:`LABEL_KEYS` (``imgname`` as str), those
        of :data:`OPTIONAL_KEYS` the file has, and ``meta`` (a dict, empty
        when the file has none).

    Raises:
        FileNotFoundError, KeyError, ValueError: Naming the file and the
            key at fault.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'pseudo-label file {path!r} does not exist (make it with '
            'tools/make_pseudo_labels.py)')
    with open_npz(path, 'pseudo-label file') as npz:
        missing = [k for k in LABEL_KEYS if k not in npz.files]
        if missing:
            raise KeyError(f'pseudo-label file {path!r} lacks the key(s) '
                           f'{missing}')
        data = {}
        present = tuple(k for k in OPTIONAL_KEYS + ('meta', )
                        if k in npz.files)
        for key in LABEL_KEYS + present:
            try:
                data[key] = npz[key]
            except (ValueError, OSError, EOFError) as e:
                raise ValueError(f'pseudo-label file {path!r}: key {key!r} '
                                 f'cannot be read ({e})') from e
    if data['imgname'].dtype.kind not in 'US':
        raise ValueError(f"pseudo-label file {path!r}: 'imgname' must hold "
                         f'strings, got dtype {data["imgname"].dtype}')
    data['imgname'] = data['imgname'].astype(str)
    data['meta'] = json.loads(str(data['meta'])) if 'meta' in data else {}
    _check_rows(path, data)
    return data


def _check_rows(path: str, data: Dict[str, np.ndarray]) -> None:
    num = len(data['imgname'])
    for key in LABEL_KEYS[1:] + OPTIONAL_KEYS:
        if key in data and len(data[key]) != num:
            raise ValueError(f'pseudo-label file {path!r}: {key!r} has '
                             f'{len(data[key])} rows, imgname {num}')
