# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Precomputed 2D keypoints of a multi-camera recording.

Two exchange formats are read into one :class:`KeypointSequence` (camera
names, frame numbers and every person of every view):

- an NPZ in the layout of the shared ``mediapipe_coco17.npz``:
  ``keypoints`` (F, V, J, 3) pixel x, y, confidence (or (F, V, P, J, 3)
  with P people per view, NaN-padded), ``cameras`` (V,) names and
  optionally ``frames`` (F,) frame numbers (default ``0 .. F - 1``);
- a folder of OpenPose-style JSON (the exchange format of OpenPose,
  Pose2Sim and EasyMocap): ``<root>/<camera>/*_<frame>_keypoints.json``
  (Pose2Sim's ``<camera>_json`` folders are accepted for ``<camera>``),
  each with ``people[i].pose_keypoints_2d`` = ``x, y, c`` per joint, flat.
  OpenPose writes an undetected joint as ``0, 0, 0``: every joint with
  confidence 0 is read as missing (NaN coordinates).

Missing joints, people, views and frames are NaN with confidence 0.
Malformed files raise :class:`KeypointFileError` (a ``ValueError``) naming
the file and the field.
"""
import json
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..geometry.person_choice import (
    most_confident,
    person_scores,
    present_joints,
    take_people,
)
from ..utils.safe_pickle import FileLoadError
from .joint_layouts import KEYPOINT_LAYOUT_SIZES, convert_keypoints
from .pseudo_label_file import open_npz

PathLike = Union[str, os.PathLike]

_OPENPOSE_SUFFIX = '_keypoints.json'
_OPENPOSE_FRAME = re.compile(r'(?:^|_)(\d+)_keypoints\.json$')


class KeypointFileError(FileLoadError):
    """A keypoint file is unreadable or a field is malformed."""


@dataclass(frozen=True, eq=False)
class KeypointSequence:
    """2D keypoints of every person in every view of a recording.

    Args:
        cameras (tuple[str]): Camera names, (V,).
        frames (np.ndarray): Frame numbers (F,) int, increasing.
        keypoints (np.ndarray): (F, V, P, J, 3) pixel x, y, confidence;
            NaN with confidence 0 where a joint, person or view is missing.
        layout (str, optional): The joint layout (``'coco17'``, ...).
        source (str): The file or folder read (for messages).
    """
    cameras: Tuple[str, ...]
    frames: np.ndarray
    keypoints: np.ndarray
    layout: Optional[str] = None
    source: str = ''

    def __post_init__(self):
        nf, nv = len(self.frames), len(self.cameras)
        if self.keypoints.ndim != 5 or self.keypoints.shape[:2] != (nf, nv) \
                or self.keypoints.shape[-1] != 3:
            raise ValueError(f'keypoints must have shape ({nf}, {nv}, P, J, '
                             f'3), got {self.keypoints.shape}')
        if self.layout is not None and self.layout in KEYPOINT_LAYOUT_SIZES \
                and self.num_joints != KEYPOINT_LAYOUT_SIZES[self.layout]:
            raise ValueError(
                f'{self.source or "keypoints"}: layout {self.layout!r} has '
                f'{KEYPOINT_LAYOUT_SIZES[self.layout]} joints, the keypoints '
                f'have {self.num_joints}')

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[-2]

    @property
    def num_people(self) -> np.ndarray:
        """People found in each view of each frame, (F, V) int."""
        return present_joints(self.keypoints).any(-1).sum(-1)

    def person_scores(self) -> np.ndarray:
        """Mean joint confidence of each person (missing joints count 0),
        (F, V, P); 0 for padding."""
        return person_scores(self.keypoints)

    def best_person(self) -> np.ndarray:
        """The person of highest mean confidence in each view of each
        frame (the single-person rule; :attr:`num_people` tells where a
        choice was made).

        Returns:
            np.ndarray: (F, V, J, 3); NaN with confidence 0 where nobody
            was found.
        """
        return take_people(self.keypoints, most_confident(self.keypoints))

    def select(self, cameras: Optional[Sequence[str]] = None,
               frames: Optional[Sequence[int]] = None) -> 'KeypointSequence':
        """The keypoints of some cameras and frame numbers, in that order;
        frames the sequence lacks are missing (NaN, confidence 0).

        Raises:
            ValueError: If a camera is not in the sequence.
        """
        cameras = self.cameras if cameras is None else tuple(cameras)
        missing = [c for c in cameras if c not in self.cameras]
        if missing:
            raise ValueError(f'{self.source or "keypoints"}: no keypoints '
                             f'for camera(s) {missing} (it has '
                             f'{list(self.cameras)})')
        frames = self.frames if frames is None else np.asarray(frames, int)
        views = [self.cameras.index(c) for c in cameras]
        rows = {int(f): i for i, f in enumerate(self.frames)}
        out = _missing((len(frames), len(views)) + self.keypoints.shape[2:])
        for i, frame in enumerate(frames):
            row = rows.get(int(frame))
            if row is not None:
                out[i] = self.keypoints[row, views]
        return KeypointSequence(cameras, np.array(frames, int), out,
                                self.layout, self.source)

    def converted(self, dst: str = 'h36m16') -> 'KeypointSequence':
        """The same keypoints in another joint layout
        (:func:`convert_keypoints`)."""
        if self.layout is None:
            raise ValueError(f'{self.source or "keypoints"}: the joint '
                             'layout is unknown; give it (e.g. '
                             "layout='coco17') to convert")
        return KeypointSequence(self.cameras, self.frames,
                                convert_keypoints(self.keypoints,
                                                  self.layout, dst),
                                dst, self.source)


def _missing(shape: Tuple[int, ...]) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[..., 2] = 0.0
    return out


def _clean(keypoints: np.ndarray) -> np.ndarray:
    """NaN coordinates and confidence 0 wherever a joint is not present."""
    return np.where(present_joints(keypoints)[..., None], keypoints,
                    np.array([np.nan, np.nan, 0.0]))


def _check_layout(layout: Optional[str], source: str) -> Optional[int]:
    if layout is None:
        return None
    if layout not in KEYPOINT_LAYOUT_SIZES:
        raise ValueError(f'{source}: unknown keypoint layout {layout!r}; '
                         f'known: {sorted(KEYPOINT_LAYOUT_SIZES)}')
    return KEYPOINT_LAYOUT_SIZES[layout]


# NPZ ------------------------------------------------------------------------


def load_keypoints_npz(path: PathLike,
                       layout: Optional[str] = None) -> KeypointSequence:
    """Read keypoints saved as NPZ (see the module docstring).

    Args:
        path (str): The ``.npz`` file.
        layout (str, optional): Its joint layout (checked against J).

    Returns:
        KeypointSequence: P = 1 for a (F, V, J, 3) file.
    """
    source = str(path)
    if not osp.isfile(source):
        raise FileNotFoundError(f'keypoint file {source} does not exist')
    with open_npz(source, 'keypoint file') as npz:
        for key in ('keypoints', 'cameras'):
            if key not in npz.files:
                raise KeypointFileError(source, f'keypoint file {source} '
                                        f'lacks the field {key!r}')
        try:
            kp = npz['keypoints']
            cameras = npz['cameras']
            frames = npz['frames'] if 'frames' in npz.files else None
        except ValueError as e:  # object arrays need pickle: refused
            raise KeypointFileError(source, f'keypoint file {source}: '
                                    f'fields must be plain arrays ({e})') \
                from e
    if kp.dtype.kind not in 'fiu':
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                f"'keypoints' must hold numbers, got dtype "
                                f'{kp.dtype}')
    kp = kp.astype(np.float64)
    if kp.ndim == 4:
        kp = kp[:, :, None]
    if kp.ndim != 5 or kp.shape[-1] != 3:
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                "'keypoints' must have shape (F, V, J, 3) or "
                                f'(F, V, P, J, 3), got {kp.shape}')
    nf, nv = kp.shape[:2]
    if cameras.dtype.kind not in 'US' or cameras.shape != (nv, ):
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                f"'cameras' must hold {nv} names, got "
                                f'{cameras.dtype} {cameras.shape}')
    cameras = tuple(str(c) for c in cameras)
    if len(set(cameras)) != nv:
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                f"'cameras' repeats a name: {list(cameras)}")
    if frames is None:
        frames = np.arange(nf)
    elif frames.dtype.kind not in 'iu' or frames.shape != (nf, ) or \
            np.any(np.diff(frames) <= 0):
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                f"'frames' must hold {nf} increasing whole "
                                f'numbers, got {frames.dtype} {frames.shape}')
    num_joints = _check_layout(layout, source)
    if num_joints is not None and kp.shape[-2] != num_joints:
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                f"'keypoints' has {kp.shape[-2]} joints, "
                                f'layout {layout!r} has {num_joints}')
    return KeypointSequence(cameras, frames.astype(int), _clean(kp), layout,
                            source)


# OpenPose JSON -------------------------------------------------------------


def openpose_frame_number(path: str) -> Optional[int]:
    """The frame number of an OpenPose file
    (``cam01_000000000012_keypoints.json`` -> 12), or None for a file
    that is not an OpenPose keypoint file (not ``*_keypoints.json``)."""
    filename = osp.basename(path)
    if not filename.endswith(_OPENPOSE_SUFFIX):
        return None
    match = _OPENPOSE_FRAME.search(filename)
    if match is None:
        raise KeypointFileError(path, f'keypoint file {path}: no frame '
                                'number before "_keypoints.json" (expected '
                                '*_<frame>_keypoints.json)')
    return int(match.group(1))


def read_openpose_json(path: PathLike,
                       num_joints: Optional[int] = None) -> np.ndarray:
    """The people of one OpenPose JSON file.

    Args:
        path (str): The file.
        num_joints (int, optional): Joints each person must have.

    Returns:
        np.ndarray: (P, J, 3) (P = 0 when nobody was found); joints with
        confidence 0 are NaN with confidence 0.
    """
    source = str(path)
    try:
        with open(source, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KeypointFileError(source, f'keypoint file {source} is not '
                                f'valid JSON ({e})') from e
    if not isinstance(data, dict) or 'people' not in data:
        raise KeypointFileError(source, f'keypoint file {source} lacks the '
                                "field 'people'")
    people = data['people']
    if not isinstance(people, list):
        raise KeypointFileError(source, f"keypoint file {source}: field "
                                "'people' must be a list, got "
                                f'{type(people).__name__}')
    out = []
    for i, person in enumerate(people):
        field = f'people[{i}].pose_keypoints_2d'
        if not isinstance(person, dict) or 'pose_keypoints_2d' not in person:
            raise KeypointFileError(source, f'keypoint file {source} lacks '
                                    f'the field {field!r}')
        values = person['pose_keypoints_2d']
        try:
            flat = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            flat = None
        if flat is None or flat.ndim != 1:
            raise KeypointFileError(source, f'keypoint file {source}: field '
                                    f'{field!r} must be a flat list of '
                                    'numbers x, y, c, ...')
        expected = 3 * num_joints if num_joints else None
        if flat.size % 3 or flat.size == 0 or (expected and
                                               flat.size != expected):
            want = f'{expected}' if expected else 'a positive multiple of 3'
            raise KeypointFileError(source, f'keypoint file {source}: field '
                                    f'{field!r} holds {flat.size} values, '
                                    f'expected {want} (x, y, c per joint)')
        num_joints = flat.size // 3
        out.append(flat.reshape(-1, 3))
    if not out:
        return _missing((0, num_joints or 0, 3))
    return _clean(np.stack(out))


def _camera_folders(root: str,
                    cameras: Optional[Sequence[str]]) -> Dict[str, str]:
    """Camera name -> its folder under ``root``."""
    folders = sorted(d for d in os.listdir(root)
                     if osp.isdir(osp.join(root, d)))
    by_camera: Dict[str, str] = {}
    for folder in folders:
        name = folder[:-len('_json')] if folder.endswith('_json') else folder
        if name in by_camera:
            raise KeypointFileError(root, f'keypoint folder {root}: both '
                                    f'{by_camera[name]!r} and {folder!r} '
                                    f'hold camera {name!r}')
        by_camera[name] = folder
    if cameras is None:
        return {name: osp.join(root, folder)
                for name, folder in by_camera.items()
                if any(f.endswith(_OPENPOSE_SUFFIX)
                       for f in os.listdir(osp.join(root, folder)))}
    missing = [c for c in cameras if c not in by_camera]
    if missing:
        raise KeypointFileError(root, f'keypoint folder {root} has no '
                                f'folder for camera(s) {missing} (it has '
                                f'{folders})')
    return {c: osp.join(root, by_camera[c]) for c in cameras}


def load_openpose_folder(root: PathLike,
                         cameras: Optional[Sequence[str]] = None,
                         layout: Optional[str] = None) -> KeypointSequence:
    """Read a folder of OpenPose-style JSON, one sub-folder per camera.

    Args:
        root (str): ``<root>/<camera>/*_<frame>_keypoints.json``.
        cameras (Sequence[str], optional): The cameras to read, in this
            order; defaults to every sub-folder holding keypoint files,
            sorted.
        layout (str, optional): The joint layout (fixes J).

    Returns:
        KeypointSequence: Frames are the union of every camera's frame
        numbers; P is the most people found in one file (at least 1).
    """
    source = str(root)
    if not osp.isdir(source):
        raise FileNotFoundError(f'keypoint folder {source} does not exist')
    num_joints = _check_layout(layout, source)
    folders = _camera_folders(source, cameras)
    if len(folders) == 0:
        raise KeypointFileError(source, f'keypoint folder {source} has no '
                                f'camera folder with *{_OPENPOSE_SUFFIX} '
                                'files')
    per_camera: List[Dict[int, np.ndarray]] = []
    for folder in folders.values():
        by_frame: Dict[int, Tuple[str, np.ndarray]] = {}
        for filename in sorted(os.listdir(folder)):
            path = osp.join(folder, filename)
            frame = openpose_frame_number(path)
            if frame is None:
                continue
            if frame in by_frame:
                raise KeypointFileError(path, f'keypoint files '
                                        f'{by_frame[frame][0]} and {path} '
                                        f'both hold frame {frame}')
            people = read_openpose_json(path, num_joints)
            if len(people) and num_joints is None:
                num_joints = people.shape[1]
            by_frame[frame] = (path, people)
        per_camera.append({f: p for f, (_, p) in by_frame.items()})
    if num_joints is None:
        raise KeypointFileError(source, f'keypoint folder {source}: nobody '
                                'was found in any file, so the number of '
                                'joints is unknown (give the layout)')
    frames = np.array(sorted({f for cam in per_camera for f in cam}), int)
    num_people = max([1] + [len(p) for cam in per_camera
                            for p in cam.values()])
    kp = _missing((len(frames), len(folders), num_people, num_joints, 3))
    row = {int(f): i for i, f in enumerate(frames)}
    for v, cam in enumerate(per_camera):
        for frame, people in cam.items():
            kp[row[frame], v, :len(people)] = people
    return KeypointSequence(tuple(folders), frames, kp, layout, source)


def load_keypoints(path: PathLike, layout: Optional[str] = None,
                   cameras: Optional[Sequence[str]] = None
                   ) -> KeypointSequence:
    """Read precomputed 2D: an ``.npz`` file or an OpenPose JSON folder.

    Args:
        path (str): The file or folder.
        layout (str, optional): The joint layout (``'coco17'``, ...).
        cameras (Sequence[str], optional): Keep these cameras, in this
            order.

    Returns:
        KeypointSequence: The keypoints.
    """
    source = str(path)
    if osp.isdir(source):
        return load_openpose_folder(source, cameras, layout)
    if source.endswith('.npz'):
        seq = load_keypoints_npz(source, layout)
        return seq if cameras is None else seq.select(cameras)
    if not osp.exists(source):
        raise FileNotFoundError(f'keypoint file {source} does not exist')
    raise KeypointFileError(source, f'keypoint file {source}: expected an '
                            '.npz file or a folder of OpenPose JSON')
