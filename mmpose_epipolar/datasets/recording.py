# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""A multi-camera recording folder: which camera is which file, which
frames are the same instant, and the frames decoded once into a cache.

Layout (cameras named as in the calibration, see :mod:`.calibration`)::

    RECORDING/videos/<camera>.<mp4|avi|mov|mkv>   one video per camera
    RECORDING/images/<camera>/<files>             one image folder per camera

Cameras are matched by name: a video or folder whose camera is not in the
calibration is an error (it would silently be left out); a calibrated
camera without media is dropped with a warning, and fewer than two usable
cameras is an error.

Frames live on one timeline: timeline frame ``n`` is frame
``n + offsets[camera]`` of each camera's own video or folder (the offset
synchronises cameras started at different times). In image folders a
file's frame number is the last number in its name, so a camera may lack
frames. Videos of different lengths are cut to their common range (the
summary says so). A frame range ``[start, stop)`` and a step then select
timeline frames; frames seen by fewer than ``min_views`` cameras are left
out and counted.

Videos are decoded ONCE with OpenCV into ``<cache>/<camera>/<frame>.jpg``
(``<frame>`` the camera's own frame number, six digits, so the cache does
not depend on offsets or ranges) with an index ``<cache>/index.json``; a
later call decodes only frames it has not seen (nothing, for the same
options) and a changed video is decoded again. A frame that cannot be
decoded (a truncated or corrupt video) or an unreadable or truncated image
file is recorded as missing and counted, never raised.
"""
import json
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..utils.atomic_file import write_text_if_changed
from ..utils.safe_pickle import FileLoadError
from .transforms.loading import jpeg_truncation

PathLike = Union[str, os.PathLike]

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
CACHE_INDEX = 'index.json'
_CACHE_VERSION = 1
_LAST_NUMBER = re.compile(r'(\d+)(?!.*\d)')


class RecordingError(FileLoadError):
    """A recording folder cannot be used as given (the message names the
    folder or file and what is wrong)."""


@dataclass(frozen=True)
class RecordingSource:
    """The media of each camera of a recording.

    Args:
        root (str): The recording folder.
        kind (str): ``'videos'`` or ``'images'``.
        cameras (tuple[str]): The usable cameras, in calibration order.
        paths (tuple[str]): Each camera's video file or image folder.
        dropped (tuple[str]): Calibrated cameras without media.
    """
    root: str
    kind: str
    cameras: Tuple[str, ...]
    paths: Tuple[str, ...]
    dropped: Tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class RecordingIndex:
    """The synchronised frames of a recording, as image files.

    Args:
        root (str): The recording folder.
        kind (str): ``'videos'`` or ``'images'``.
        image_root (str): The folder ``imgnames`` are relative to (the
            frame cache for videos, ``RECORDING/images`` for images).
        cameras (tuple[str]): (V,) camera names.
        frames (np.ndarray): (F,) timeline frame numbers.
        source_frames (np.ndarray): (F, V) int, each camera's own frame
            number (``frames + offset``), -1 where the view is missing.
        imgnames (np.ndarray): (F, V) str ``<camera>/<file>`` (the name a
            pseudo-label file uses), ``''`` where missing.
        summary (dict): What was found, dropped, cut and decoded (see
            :func:`index_recording`).
    """
    root: str
    kind: str
    image_root: str
    cameras: Tuple[str, ...]
    frames: np.ndarray
    source_frames: np.ndarray
    imgnames: np.ndarray
    summary: Dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> np.ndarray:
        """Views with an image, (F, V) bool."""
        return self.imgnames != ''

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def image_path(self, frame: int, view: int) -> Optional[str]:
        """The image of row ``frame``, view ``view``, or None if missing."""
        name = self.imgnames[frame, view]
        return osp.join(self.image_root, name) if name else None


# Discovery ------------------------------------------------------------------


def _media(folder: str, kind: str) -> Dict[str, str]:
    """Camera name -> video file or image folder."""
    found: Dict[str, str] = {}
    for entry in sorted(os.listdir(folder)):
        path = osp.join(folder, entry)
        if kind == 'videos':
            stem, ext = osp.splitext(entry)
            if not (osp.isfile(path) and ext.lower() in VIDEO_EXTENSIONS):
                continue
        else:
            stem = entry
            if not osp.isdir(path):
                continue
        if stem in found:
            raise RecordingError(folder, f'recording folder {folder}: '
                                 f'camera {stem!r} has two videos, '
                                 f'{osp.basename(found[stem])} and {entry}')
        found[stem] = path
    return found


def find_recording(root: PathLike, camera_names: Sequence[str],
                   min_views: int = 2) -> RecordingSource:
    """Find each calibrated camera's video or image folder.

    Args:
        root (str): ``RECORDING`` with ``videos/`` or ``images/``.
        camera_names (Sequence[str]): The calibration's cameras.
        min_views (int): Fewest usable cameras.

    Returns:
        RecordingSource: The matched cameras in calibration order.

    Raises:
        RecordingError: No or both sub-folders, media of a camera the
            calibration lacks, or fewer than ``min_views`` cameras.
    """
    root = str(root)
    if not osp.isdir(root):
        raise FileNotFoundError(f'recording folder {root} does not exist')
    kinds = [k for k in ('videos', 'images') if osp.isdir(osp.join(root, k))]
    if len(kinds) != 1:
        problem = 'has both' if kinds else 'has neither'
        raise RecordingError(root, f'recording folder {root} {problem} '
                             'videos/ (one <camera>.mp4|avi|mov per camera) '
                             'and images/ (one <camera>/ folder per camera); '
                             'it needs exactly one')
    kind = kinds[0]
    folder = osp.join(root, kind)
    media = _media(folder, kind)
    names = [str(n) for n in camera_names]
    unknown = [c for c in media if c not in names]
    if unknown:
        raise RecordingError(folder, f'recording folder {folder}: camera(s) '
                             f'{unknown} are not in the calibration (it has '
                             f'{names}; the recording has {list(media)})')
    dropped = tuple(c for c in names if c not in media)
    cameras = tuple(c for c in names if c in media)
    if dropped:
        warnings.warn(f'recording folder {folder}: calibrated camera(s) '
                      f'{list(dropped)} have no {kind[:-1]}; using '
                      f'{list(cameras)}')
    if len(cameras) < min_views:
        raise RecordingError(folder, f'recording folder {folder}: '
                             f'{len(cameras)} camera(s) {list(cameras)} '
                             f'match the calibration {names}; at least '
                             f'{min_views} are needed')
    return RecordingSource(root, kind, cameras,
                           tuple(media[c] for c in cameras), dropped)


# Frame selection -------------------------------------------------------------


def _offsets(cameras: Sequence[str],
             offsets: Optional[Mapping[str, int]]) -> Dict[str, int]:
    offsets = dict(offsets or {})
    unknown = [c for c in offsets if c not in cameras]
    if unknown:
        raise ValueError(f'frame offsets name camera(s) {unknown} that the '
                         f'recording does not use (it uses {list(cameras)})')
    out = {}
    for cam in cameras:
        value = offsets.get(cam, 0)
        if int(value) != value:
            raise ValueError(f'frame offset of camera {cam!r} must be a '
                             f'whole number, got {value!r}')
        out[cam] = int(value)
    return out


def _select(frames: np.ndarray, frame_range: Optional[Tuple], step: int
            ) -> np.ndarray:
    """Timeline frames in ``[start, stop)`` every ``step`` from ``start``
    (``start`` defaults to the first frame)."""
    if int(step) != step or step < 1:
        raise ValueError(f'frame step must be a whole number >= 1, got '
                         f'{step!r}')
    if len(frames) == 0:
        return frames
    start, stop = (None, None) if frame_range is None else frame_range
    start = int(frames.min()) if start is None else int(start)
    keep = frames >= start
    if stop is not None:
        keep &= frames < int(stop)
    keep &= (frames - start) % int(step) == 0
    return frames[keep]


# Image checks ------------------------------------------------------------


def image_file_ok(path: PathLike) -> bool:
    """Whether an image file is complete and decodes (OpenCV refuses
    truncated PNGs; a truncated JPEG is found on its bytes by
    :func:`jpeg_truncation`, since tolerant decoders accept it)."""
    import cv2
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return False
    if not data or jpeg_truncation(data) is not None:
        return False
    return cv2.imdecode(np.frombuffer(data, np.uint8),
                        cv2.IMREAD_COLOR) is not None


# Cache index -------------------------------------------------------------


def _read_index(cache_dir: str) -> Dict[str, Any]:
    path = osp.join(cache_dir, CACHE_INDEX)
    try:
        with open(path, encoding='utf-8') as f:
            index = json.load(f)
    except (OSError, ValueError):
        return dict(version=_CACHE_VERSION, cameras={})
    if not isinstance(index, dict) or \
            index.get('version') != _CACHE_VERSION or \
            not isinstance(index.get('cameras'), dict):
        return dict(version=_CACHE_VERSION, cameras={})
    return index


def _write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` as JSON atomically, unless the file holds it already
    (a rerun leaves an unchanged cache index untouched)."""
    write_text_if_changed(path, json.dumps(data, indent=1, sort_keys=True))


def _signature(path: str) -> Dict[str, Any]:
    """What identifies a file's content cheaply (a replaced or edited
    file changes its size or modification time)."""
    stat = os.stat(path)
    return dict(path=osp.abspath(path), size=stat.st_size,
                mtime_ns=stat.st_mtime_ns)


# Videos ------------------------------------------------------------------


def _frame_file(frame: int, ext: str) -> str:
    return f'{frame:06d}{ext}'


def _video_length(path: str) -> int:
    import cv2
    cap = cv2.VideoCapture(path)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) \
            if cap.isOpened() else 0
    finally:
        cap.release()
    if count <= 0:
        raise RecordingError(path, f'video {path} cannot be opened by '
                             'OpenCV or reports no frames')
    return count


def _decode_frames(path: str, wanted: Sequence[int], length: int,
                   out_dir: str, ext: str,
                   bar=None) -> Tuple[List[int], List[int]]:
    """Decode the frames ``wanted`` (sorted) of one video into ``out_dir``.

    Frames are read in order with ``grab`` (frame-exact, unlike seeking,
    which lands on key frames in some containers) and converted only when
    wanted. Each image is written under a temporary name and renamed, so
    an interrupted run leaves no partial frame. A stream that ends before
    its stated ``length`` was cut short, and FFmpeg returns the frame the
    cut falls in half-decoded without an error: that last frame is counted
    as unreadable too.

    Returns:
        tuple: The frames written and the frames that could not be read.
    """
    import cv2
    os.makedirs(out_dir, exist_ok=True)
    written: List[int] = []
    failed: List[int] = []
    cap = cv2.VideoCapture(path)

    def stream_ended(position: int) -> None:
        if position < length and written and written[-1] == position - 1:
            os.remove(osp.join(out_dir, _frame_file(written[-1], ext)))
            failed.append(written.pop())

    try:
        position, ended = 0, False  # frames grabbed so far
        for frame in wanted:
            while not ended and position <= frame:
                if cap.grab():
                    position += 1
                else:
                    ended = True
                    stream_ended(position)
            image = None if ended else cap.retrieve()[1]
            if image is None:
                failed.append(frame)
                continue
            target = osp.join(out_dir, _frame_file(frame, ext))
            tmp = osp.join(out_dir, f'.tmp-{_frame_file(frame, ext)}')
            if not cv2.imwrite(tmp, image):
                raise RecordingError(out_dir, f'frame cache {out_dir}: '
                                     f'cannot write {tmp}')
            os.replace(tmp, target)
            written.append(frame)
            if bar is not None:
                bar.update()
        # Is the last frame written followed by another one?
        if not ended and written and written[-1] == position - 1 \
                and position < length and not cap.grab():
            stream_ended(position)
    finally:
        cap.release()
    return written, sorted(failed)


def _common_range(source: RecordingSource, lengths: Dict[str, int],
                  offsets: Dict[str, int]) -> Tuple[int, int]:
    """Timeline frames ``[first, stop)`` that every video has."""
    first = max([0] + [-offsets[c] for c in source.cameras])
    stop = min(lengths[c] - offsets[c] for c in source.cameras)
    if stop <= first:
        raise RecordingError(source.root, f'recording {source.root}: the '
                             f'videos share no frame (lengths {lengths}, '
                             f'offsets {offsets})')
    return first, stop


def _index_videos(source: RecordingSource, cache_dir: str,
                  offsets: Dict[str, int], frame_range, step: int,
                  image_ext: str, progress: bool):
    lengths = {c: _video_length(p) for c, p in zip(source.cameras,
                                                    source.paths)}
    first, stop = _common_range(source, lengths, offsets)
    frames = _select(np.arange(first, stop), frame_range, step)
    os.makedirs(cache_dir, exist_ok=True)
    index = _read_index(cache_dir)
    wanted = {c: [int(f) + offsets[c] for f in frames]
              for c in source.cameras}
    todo, entries = {}, {}
    for cam, path in zip(source.cameras, source.paths):
        entry = index['cameras'].get(cam)
        signature = _signature(path)
        if not entry or entry.get('video') != signature or \
                entry.get('ext') != image_ext:
            entry = dict(video=signature, ext=image_ext, decoded=[],
                         unreadable=[])
        folder = osp.join(cache_dir, cam)
        decoded = {f for f in entry['decoded'] if osp.isfile(
            osp.join(folder, _frame_file(f, image_ext)))}
        unreadable = set(entry['unreadable'])
        entries[cam] = (entry, decoded, unreadable)
        todo[cam] = [f for f in wanted[cam]
                     if f not in decoded and f not in unreadable]
    bar = None
    if progress and any(todo.values()):
        from mmengine.utils import ProgressBar
        bar = ProgressBar(sum(len(t) for t in todo.values()))
    decoded_now = {}
    for cam, path in zip(source.cameras, source.paths):
        entry, decoded, unreadable = entries[cam]
        written, failed = _decode_frames(path, todo[cam], lengths[cam],
                                         osp.join(cache_dir, cam),
                                         image_ext, bar) \
            if todo[cam] else ([], [])
        decoded |= set(written)
        unreadable |= set(failed)
        decoded_now[cam] = len(written)
        entry.update(decoded=sorted(decoded), unreadable=sorted(unreadable))
        index['cameras'][cam] = entry
        _write_json_atomic(osp.join(cache_dir, CACHE_INDEX), index)
    if bar is not None:
        print()
    source_frames = np.array([wanted[c] for c in source.cameras],
                             int).T.reshape(len(frames), len(source.cameras))
    ok = np.array([[f in entries[c][1] for f in wanted[c]]
                   for c in source.cameras], bool).T.reshape(
                       source_frames.shape)
    summary = dict(
        lengths=lengths, common_range=[int(first), int(stop)],
        different_lengths=len({lengths[c] - offsets[c]
                               for c in source.cameras}) > 1,
        decoded=decoded_now)
    if summary['different_lengths']:
        warnings.warn(f'recording {source.root}: videos of different lengths '
                      f'{lengths} (offsets {offsets}): using the common '
                      f'timeline frames {first}..{stop - 1}')

    def name(cam: str, frame: int) -> str:
        return f'{cam}/{_frame_file(frame, image_ext)}'

    return frames, source_frames, ok, name, summary


# Image folders -----------------------------------------------------------


def _numbered_images(folder: str) -> Dict[int, str]:
    """Frame number (the last number of the name) -> file name."""
    found: Dict[int, str] = {}
    for name in sorted(os.listdir(folder)):
        if osp.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
            continue
        match = _LAST_NUMBER.search(osp.splitext(name)[0])
        if match is None:
            raise RecordingError(folder, f'image folder {folder}: {name} has '
                                 'no frame number in its name (frames are '
                                 'matched across cameras by the last number '
                                 'of the file name)')
        number = int(match.group(1))
        if number in found:
            raise RecordingError(folder, f'image folder {folder}: '
                                 f'{found[number]} and {name} both have '
                                 f'frame number {number}')
        found[number] = name
    return found


def _checked_images(cam: str, folder: str, files: Mapping[int, str],
                    numbers: Sequence[int], index: Optional[Dict]
                    ) -> Tuple[set, int]:
    """The frame numbers among ``numbers`` whose file is readable, and how
    many were checked now (results kept in ``index`` when given)."""
    entry = {} if index is None else index['cameras'].setdefault(cam, {})
    checks = entry.setdefault('checked', {})
    good, checked = set(), 0
    for number in numbers:
        name = files[number]
        signature = _signature(osp.join(folder, name))
        signature.pop('path')
        record = checks.get(name)
        if record is None or record.get('file') != signature:
            record = dict(file=signature,
                          ok=image_file_ok(osp.join(folder, name)))
            checks[name] = record
            checked += 1
        if record['ok']:
            good.add(number)
    return good, checked


def _index_images(source: RecordingSource, cache_dir: Optional[str],
                  offsets: Dict[str, int], frame_range, step: int,
                  check: bool):
    files = {c: _numbered_images(p) for c, p in zip(source.cameras,
                                                     source.paths)}
    timeline = sorted({n - offsets[c] for c in source.cameras
                       for n in files[c]})
    frames = _select(np.array(timeline, int), frame_range, step)
    index = None
    if check and cache_dir is not None:
        os.makedirs(cache_dir, exist_ok=True)
        index = _read_index(cache_dir)
    source_frames = np.full((len(frames), len(source.cameras)), -1, int)
    ok = np.zeros(source_frames.shape, bool)
    checked_now = {}
    for v, (cam, folder) in enumerate(zip(source.cameras, source.paths)):
        own = frames + offsets[cam]
        has = np.array([int(n) in files[cam] for n in own], bool)
        source_frames[:, v] = own
        numbers = [int(n) for n in own[has]]
        if check:
            good, checked_now[cam] = _checked_images(cam, folder, files[cam],
                                                     numbers, index)
        else:
            good = set(numbers)
        ok[:, v] = [int(n) in good for n in own]
    if index is not None:
        _write_json_atomic(osp.join(cache_dir, CACHE_INDEX), index)
    summary = dict(lengths={c: len(files[c]) for c in source.cameras},
                   checked=checked_now)
    folder_of = {c: osp.basename(p) for c, p in zip(source.cameras,
                                                     source.paths)}

    def name(cam: str, frame: int) -> str:
        return f'{folder_of[cam]}/{files[cam][frame]}'

    return frames, source_frames, ok, name, summary, files


def index_recording(root: PathLike,
                    camera_names: Sequence[str],
                    cache_dir: Optional[PathLike] = None,
                    *,
                    offsets: Optional[Mapping[str, int]] = None,
                    frame_range: Optional[Tuple[Optional[int],
                                                Optional[int]]] = None,
                    step: int = 1,
                    min_views: int = 2,
                    image_ext: str = '.jpg',
                    check_images: bool = True,
                    progress: bool = False) -> RecordingIndex:
    """Find, synchronise and (for videos) decode a recording's frames.

    Args:
        root (str): ``RECORDING`` (see the module docstring).
        camera_names (Sequence[str]): The calibration's cameras.
        cache_dir (str, optional): The frame cache (needed for videos; for
            image folders it keeps the readability checks).
        offsets (Mapping[str, int], optional): Per camera, its own frame
            number of timeline frame 0 (default 0).
        frame_range (tuple, optional): Timeline ``(start, stop)``, stop
            exclusive, either None for open.
        step (int): Keep every ``step``-th timeline frame from ``start``.
        min_views (int): Fewest cameras a kept frame has (and a usable
            recording has).
        image_ext (str): ``'.jpg'`` or ``'.png'`` for decoded frames.
        check_images (bool): Check every image file of an image folder
            once (:func:`image_file_ok`).
        progress (bool): Show a progress bar while decoding.

    Returns:
        RecordingIndex: With ``summary``: ``cameras``, ``dropped_cameras``,
        ``lengths`` (frames per video / numbered images per folder),
        ``frames`` (kept), ``frames_below_min_views`` (left out),
        ``missing`` and ``unreadable`` (per camera, among the selected
        frames: no file / cannot be decoded), and ``common_range``,
        ``different_lengths``, ``decoded`` (frames decoded by this call)
        for videos or ``checked`` (images checked by this call) for
        images.

    Raises:
        RecordingError: See :func:`find_recording`; a video OpenCV cannot
            open; videos without a common frame; image names without a
            number or with repeated numbers.
        ValueError: Bad options.
    """
    if image_ext not in ('.jpg', '.png'):
        raise ValueError(f"image_ext must be '.jpg' or '.png', got "
                         f'{image_ext!r}')
    source = find_recording(root, camera_names, min_views)
    offsets = _offsets(source.cameras, offsets)
    if source.kind == 'videos':
        if cache_dir is None:
            raise ValueError('a recording of videos needs a cache_dir for '
                             'its decoded frames')
        cache_dir = str(cache_dir)
        frames, source_frames, ok, names, summary = _index_videos(
            source, cache_dir, offsets, frame_range, step, image_ext,
            progress)
        image_root = cache_dir
        exists = np.ones(ok.shape, bool)
    else:
        frames, source_frames, ok, names, summary, files = _index_images(
            source, None if cache_dir is None else str(cache_dir), offsets,
            frame_range, step, check_images)
        image_root = osp.join(source.root, 'images')
        exists = np.array([[int(n) in files[c] for c, n in
                            zip(source.cameras, row)]
                           for row in source_frames], bool).reshape(ok.shape)
    enough = ok.sum(1) >= min_views
    summary.update(
        cameras=list(source.cameras), dropped_cameras=list(source.dropped),
        frames=int(enough.sum()),
        frames_below_min_views=int((~enough).sum()),
        missing={c: int((~exists[:, v]).sum())
                 for v, c in enumerate(source.cameras)},
        unreadable={c: int((exists[:, v] & ~ok[:, v]).sum())
                    for v, c in enumerate(source.cameras)})
    frames, source_frames, ok = frames[enough], source_frames[enough], \
        ok[enough]
    imgnames = np.array([[names(c, int(n)) if good else ''
                          for c, n, good in zip(source.cameras, row, oks)]
                         for row, oks in zip(source_frames, ok)],
                        dtype=object).reshape(ok.shape).astype(str)
    source_frames = np.where(ok, source_frames, -1)
    return RecordingIndex(source.root, source.kind, image_root,
                          source.cameras, frames, source_frames, imgnames,
                          summary)
