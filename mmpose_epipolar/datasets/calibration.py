# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Camera calibration files: one camera record, readers for the common
layouts and a writer for the Anipose / Pose2Sim TOML layout.

Every reader returns a list of :class:`CameraCalibration` in the file's
order. :func:`load_calibration` dispatches on the path:

- ``*.toml``: Anipose / Pose2Sim. One table per camera (``[cam01]``,
  ``[cam_0]``, ...; a ``[metadata]`` table is skipped) with ``name``
  (default: the table's key), ``size`` ``[w, h]`` pixels, ``matrix`` K
  (3 x 3 pixels), ``distortions`` ``[k1, k2, p1, p2]`` or
  ``[k1, k2, p1, p2, k3]``, optional ``rotation`` (Rodrigues vector, or a
  3 x 3 matrix) and ``translation``, world to camera
  ``X_cam = R X_world + t``, and ``fisheye`` (only ``false`` is
  supported: the package's lens model is OpenCV's pinhole model).
- ``*.yml``, ``*.yaml``, ``*.json``, ``*.xml`` or a folder of such files:
  OpenCV ``FileStorage``. A file holds either one camera at its top level
  (``camera_matrix``, ``distortion_coefficients``, as OpenCV's calibration
  sample writes them), named by its ``camera_name`` string or else by the
  file's stem (``calib/cam01.yml`` is camera ``cam01``); or one camera per
  top-level section (``cam01: {camera_matrix: ..., ...}``), named by the
  section. Optional fields: ``image_width`` and ``image_height`` or
  ``image_size`` ``[w, h]``; ``rotation`` (3 x 3 matrix or 3 Rodrigues
  values) and ``translation`` (3), world to camera as above. A folder's
  files are read in sorted order.
- ``*.pkl``: Human3.6M ``cameras.pkl`` (MMPose's format), the cameras of
  one ``subject``, named by camera id, translation in metres (the
  file's ``X_cam = R.T (X - T)`` is turned into ``R.T``, ``-R.T T``).

Distortion is always returned as OpenCV's 5 coefficients
``[k1, k2, p1, p2, k3]`` (docs/conventions.md). Extrinsics are kept in the
file's units; a rig recovered from 2D alone is known only up to scale
(:func:`scale_rig`). Malformed input raises :class:`CalibrationError` (a
``ValueError``) naming the file, the camera and the field.
"""
import dataclasses
import math
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from ..utils.atomic_file import write_text_if_changed
from ..utils.safe_pickle import FileLoadError
from .h36m_utils import load_h36m_cameras

PathLike = Union[str, os.PathLike]

#: Extensions read by OpenCV ``FileStorage``.
OPENCV_EXTENSIONS = ('.yml', '.yaml', '.json', '.xml')

# Largest deviation of R R^T from the identity accepted as a rotation (a
# matrix typed with 6-7 digits is orthonormal to about 1e-6).
_ROTATION_TOL = 1e-4


class CalibrationError(FileLoadError):
    """A calibration file cannot be used: unreadable, or a camera lacks a
    field or holds a malformed value (the message names the file, the
    camera and the field)."""


@dataclass(frozen=True, eq=False)
class CameraCalibration:
    """One camera of a calibration.

    Args:
        name (str): The camera's name (matched to video and folder names).
        image_size (tuple[int, int], optional): ``(width, height)`` pixels.
        intrinsics (np.ndarray): ``K`` (3, 3) pixels, float64.
        distortion (np.ndarray): (5,) OpenCV order ``[k1, k2, p1, p2, k3]``.
        rotation (np.ndarray, optional): ``R`` (3, 3), world to camera
            ``X_cam = R X_world + t``.
        translation (np.ndarray, optional): ``t`` (3,), in the file's units.
    """
    name: str
    image_size: Optional[Tuple[int, int]]
    intrinsics: np.ndarray
    distortion: np.ndarray
    rotation: Optional[np.ndarray] = None
    translation: Optional[np.ndarray] = None

    def __post_init__(self):
        # Cameras made in code (a recovered rig) get the readers' checks.
        checked = _checked_camera(
            dict(name=self.name, image_size=self.image_size,
                 intrinsics=self.intrinsics, distortion=self.distortion,
                 rotation=self.rotation, translation=self.translation),
            where=f'camera {self.name!r}', source=None)
        for key, value in checked.items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, key, value)

    @property
    def has_extrinsics(self) -> bool:
        return self.rotation is not None and self.translation is not None

    @property
    def center(self) -> np.ndarray:
        """The camera's centre in world coordinates ``-R^T t``, (3,)."""
        self._require_extrinsics()
        return -self.rotation.T @ self.translation

    def replace(self, **changes: Any) -> 'CameraCalibration':
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_camera_param(self) -> Dict[str, Any]:
        """The package's per-view camera dict (docs/conventions.md):
        ``f`` (2,), ``c`` (2,), ``k`` (3,), ``p`` (2,), ``w``, ``h``,
        ``intrinsics`` (3, 3), ``distortion`` (5,)."""
        k, d = self.intrinsics, self.distortion
        w, h = self.image_size if self.image_size else (None, None)
        return dict(
            f=np.array([k[0, 0], k[1, 1]]), c=np.array([k[0, 2], k[1, 2]]),
            k=d[[0, 1, 4]].copy(), p=d[[2, 3]].copy(), w=w, h=h,
            intrinsics=k.copy(), distortion=d.copy())

    def project(self, points: np.ndarray, world: bool = True) -> np.ndarray:
        """Project 3D points to distorted pixels (``cv2.projectPoints``).

        Args:
            points (np.ndarray): (..., N, 3), world coordinates when
                ``world`` (needs the extrinsics), else camera coordinates.
            world (bool): Whether the points are in the world frame.

        Returns:
            np.ndarray: (..., N, 2) pixels (non-finite at or behind the
            camera plane).
        """
        import torch

        from ..geometry import project_points
        pts = torch.tensor(np.asarray(points), dtype=torch.float64)
        rot = trans = None
        if world:
            self._require_extrinsics()
            rot = torch.tensor(self.rotation)
            trans = torch.tensor(self.translation)
        return project_points(pts, torch.tensor(self.intrinsics),
                              torch.tensor(self.distortion), rot,
                              trans).numpy()

    def _require_extrinsics(self) -> None:
        if not self.has_extrinsics:
            raise ValueError(f'camera {self.name!r} has no extrinsics '
                             '(rotation and translation)')


# Validation -----------------------------------------------------------------


def _fail(source: Optional[str], where: str, field: str, problem: str):
    """Raise the error of one field; ``source`` is the file (None for a
    camera made in code)."""
    prefix = f'calibration file {source}: ' if source else ''
    raise CalibrationError(source or '',
                           f'{prefix}{where}: field {field!r} {problem}')


def _numbers(value: Any, source: str, where: str, field: str) -> np.ndarray:
    if value is None:
        _fail(source, where, field, 'is missing')
    try:
        # A copy: the camera is frozen, so its arrays are made read-only.
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(source, where, field, f'must hold numbers, got {value!r}')
    if not np.isfinite(array).all():
        _fail(source, where, field,
              f'holds NaN or inf: {array.ravel().tolist()}')
    return array


def _matrix(value: Any, shape: Tuple[int, ...], source: str, where: str,
            field: str) -> np.ndarray:
    array = _numbers(value, source, where, field)
    if len(shape) == 1 and array.size == shape[0] and array.ndim == 2 \
            and 1 in array.shape:
        array = array.reshape(shape)  # a (3, 1) column stands for (3,)
    if array.shape != shape:
        _fail(source, where, field,
              f'must have shape {shape}, got {array.shape}')
    return array


def _intrinsics(value: Any, source: str, where: str,
                field: str) -> np.ndarray:
    k = _matrix(value, (3, 3), source, where, field)
    if not (k[0, 0] > 0 and k[1, 1] > 0):
        _fail(source, where, field, 'must have positive focal lengths fx, '
              f'fy, got fx={k[0, 0]!r}, fy={k[1, 1]!r}')
    if k[1, 0] != 0 or not np.allclose(k[2], [0., 0., 1.], atol=1e-9):
        _fail(source, where, field, 'must be [[fx, s, cx], [0, fy, cy], '
              f'[0, 0, 1]], got {k.tolist()}')
    return k


def _distortion(value: Any, source: str, where: str,
                field: str) -> np.ndarray:
    d = _numbers(value, source, where, field).ravel()
    # OpenCV also writes 8, 12 or 14 coefficients (rational, thin prism,
    # tilted models); zeros there are the plain model, anything else is a
    # lens model this package does not implement.
    if d.size not in (4, 5, 8, 12, 14):
        _fail(source, where, field, 'must hold 4 or 5 coefficients [k1, '
              f'k2, p1, p2(, k3)], got {d.size}')
    if d.size > 5 and np.any(d[5:] != 0):
        _fail(source, where, field, 'uses the rational / thin-prism '
              'coefficients beyond k3, which the package lens model '
              f'[k1, k2, p1, p2, k3] does not have: {d.tolist()}')
    return np.concatenate([d[:5], np.zeros(5 - min(d.size, 5))])


def _rotation(value: Any, source: str, where: str,
              field: str) -> np.ndarray:
    r = _numbers(value, source, where, field)
    if r.size == 3:
        import cv2
        r = cv2.Rodrigues(r.reshape(3, 1))[0]
    elif r.shape != (3, 3):
        _fail(source, where, field, 'must be a Rodrigues vector (3,) or a '
              f'rotation matrix (3, 3), got shape {r.shape}')
    err = np.abs(r @ r.T - np.eye(3)).max()
    if err > _ROTATION_TOL or np.linalg.det(r) <= 0:
        _fail(source, where, field, 'is not a rotation (R R^T = I, det R = '
              f'1): |R R^T - I| = {err:.2g}, det = {np.linalg.det(r):.4g}')
    return r


def _image_size(value: Any, source: str, where: str,
                field: str) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    size = _numbers(value, source, where, field).ravel()
    if size.size != 2 or np.any(size <= 0) or np.any(size != np.round(size)):
        _fail(source, where, field, 'must be [width, height], two positive '
              f'whole numbers of pixels, got {size.tolist()}')
    return int(size[0]), int(size[1])


def _checked_camera(raw: Mapping[str, Any], where: str,
                    source: Optional[str],
                    labels: Optional[Mapping[str, str]] = None
                    ) -> Dict[str, Any]:
    """Convert and check the fields of one camera.

    Args:
        raw (Mapping): The dataclass's fields, as found in the file
            (``image_size`` and the extrinsics may be None).
        where (str): ``camera 'cam01'`` (for messages).
        source (str, optional): The file (for messages), None for a camera
            made in code.
        labels (Mapping, optional): The file's own name of each field.

    Returns:
        dict: The converted fields of :class:`CameraCalibration`.
    """
    label = dict(image_size='image_size', intrinsics='intrinsics',
                 distortion='distortion', rotation='rotation',
                 translation='translation')
    label.update(labels or {})
    rot, trans = raw.get('rotation'), raw.get('translation')
    if (rot is None) != (trans is None):
        missing = 'translation' if trans is None else 'rotation'
        _fail(source, where, label[missing], 'is missing (extrinsics need '
              'both rotation and translation)')
    name = raw.get('name')
    if not isinstance(name, str) or not name:
        _fail(source, where, 'name', f'must be a non-empty string, got '
              f'{name!r}')
    return dict(
        name=name,
        image_size=_image_size(raw.get('image_size'), source, where,
                               label['image_size']),
        intrinsics=_intrinsics(raw.get('intrinsics'), source, where,
                               label['intrinsics']),
        distortion=_distortion(raw.get('distortion'), source, where,
                               label['distortion']),
        rotation=None if rot is None else _rotation(rot, source, where,
                                                    label['rotation']),
        translation=None if trans is None else _matrix(
            trans, (3, ), source, where, label['translation']))


def _camera(raw: Mapping[str, Any], source: str,
            labels: Mapping[str, str]) -> CameraCalibration:
    """Build a camera from a file's values with messages in its terms."""
    checked = _checked_camera(raw, f"camera {raw.get('name')!r}", source,
                              labels)
    return CameraCalibration(**checked)


def _unique(cameras: List[CameraCalibration],
            source: str) -> List[CameraCalibration]:
    if not cameras:
        raise CalibrationError(source, f'calibration file {source}: holds '
                               'no camera')
    seen = set()
    for cam in cameras:
        if cam.name in seen:
            raise CalibrationError(
                source, f'calibration file {source}: camera name '
                f'{cam.name!r} appears twice')
        seen.add(cam.name)
    return cameras


# Anipose / Pose2Sim TOML -----------------------------------------------------

_TOML_LABELS = dict(image_size='size', intrinsics='matrix',
                    distortion='distortions', rotation='rotation',
                    translation='translation')


def _toml_reader():
    """``tomllib`` (Python >= 3.11) or its backport ``tomli``: the package
    still imports on Python 3.9 without either."""
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError as e:
            raise ImportError('reading a TOML calibration needs Python >= '
                              '3.11 (tomllib) or the tomli package') from e
    return tomllib


def load_calibration_toml(path: PathLike) -> List[CameraCalibration]:
    """Read an Anipose / Pose2Sim TOML calibration (see the module
    docstring).

    Args:
        path (str): The ``.toml`` file.

    Returns:
        list[CameraCalibration]: The cameras, in the file's order.

    Raises:
        FileNotFoundError: If the file does not exist.
        CalibrationError: If the file is not TOML or a camera is malformed.
    """
    source = str(path)
    _require_file(source)
    tomllib = _toml_reader()
    try:
        with open(source, 'rb') as f:
            tables = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CalibrationError(source, f'calibration file {source} is not '
                               f'valid TOML ({e})') from e
    cameras = []
    for key, table in tables.items():
        if key == 'metadata' or not isinstance(table, dict):
            continue
        name = table.get('name', key)
        where = f'camera {name!r}'
        if 'size' not in table:
            _fail(source, where, 'size', 'is missing')
        if table.get('fisheye', False) is not False:
            _fail(source, where, 'fisheye', 'must be false: the fisheye '
                  'lens model is not supported (only OpenCV pinhole '
                  '[k1, k2, p1, p2, k3])')
        cameras.append(_camera(
            dict(name=name if isinstance(name, str) else str(name),
                 image_size=table['size'], intrinsics=table.get('matrix'),
                 distortion=table.get('distortions'),
                 rotation=table.get('rotation'),
                 translation=table.get('translation')), source,
            _TOML_LABELS))
    return _unique(cameras, source)


_BARE_KEY = re.compile(r'^[A-Za-z0-9_-]+$')


def _toml_string(text: str) -> str:
    escaped = text.replace('\\', '\\\\').replace('"', '\\"')
    escaped = ''.join(c if ord(c) >= 0x20 and c != '\x7f' else
                      f'\\u{ord(c):04x}' for c in escaped)
    return f'"{escaped}"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    """One TOML value: a string, bool, finite number or nested list."""
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (bool, np.bool_)):
        return 'true' if value else 'false'
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f'TOML value {value!r} is not finite')
        # repr is the shortest string that reads back to the same double,
        # and is valid TOML (1e-05, 1.5e+16, 0.1, 1088.0).
        return repr(float(value))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return '[ ' + ', '.join(_toml_value(v) for v in value) + ']'
    raise TypeError(f'cannot write {type(value).__name__} to TOML')


def save_calibration_toml(path: PathLike,
                          cameras: Sequence[CameraCalibration],
                          metadata: Optional[Mapping[str, Any]] = None
                          ) -> str:
    """Write cameras in the Anipose / Pose2Sim TOML layout, atomically (a
    file that holds the same text already is left as it was).

    Each camera becomes the table ``[<name>]`` with ``name``, ``size``,
    ``matrix``, ``distortions`` (5 values), ``rotation`` (Rodrigues) and
    ``translation`` when it has extrinsics, and ``fisheye = false``; then
    a ``[metadata]`` table (Pose2Sim writes ``adjusted`` and ``error``).
    :func:`load_calibration_toml` reads it back exactly (the rotation to
    the precision of the Rodrigues conversion, about 1e-15).

    Args:
        path (str): The ``.toml`` file (its folder must exist).
        cameras (Sequence[CameraCalibration]): With image sizes.
        metadata (Mapping, optional): Scalar entries of ``[metadata]``
            (strings, numbers, booleans), e.g. what the units are.
            Defaults to ``adjusted = false``, ``error = 0.0``.

    Returns:
        str: ``path``.
    """
    import cv2
    path = str(path)
    lines = []
    for cam in _unique(list(cameras), path):
        if cam.image_size is None:
            raise ValueError(f'camera {cam.name!r} has no image size; '
                             f'{path} needs one for every camera')
        lines += [f'[{_toml_key(cam.name)}]',
                  f'name = {_toml_value(cam.name)}',
                  f'size = {_toml_value([float(s) for s in cam.image_size])}',
                  f'matrix = {_toml_value(cam.intrinsics)}',
                  f'distortions = {_toml_value(cam.distortion)}']
        if cam.has_extrinsics:
            rvec = cv2.Rodrigues(cam.rotation)[0].ravel()
            lines += [f'rotation = {_toml_value(rvec)}',
                      f'translation = {_toml_value(cam.translation)}']
        lines += ['fisheye = false', '']
    meta = dict(adjusted=False, error=0.0) if metadata is None else metadata
    lines.append('[metadata]')
    lines += [f'{_toml_key(str(k))} = {_toml_value(v)}'
              for k, v in meta.items()]
    write_text_if_changed(path, '\n'.join(lines) + '\n')
    return path


# OpenCV FileStorage ----------------------------------------------------------

_OPENCV_LABELS = dict(image_size='image_size', intrinsics='camera_matrix',
                      distortion='distortion_coefficients',
                      rotation='rotation', translation='translation')


def _node_value(node) -> Any:
    """A FileStorage node as numpy arrays, lists, dicts, numbers, str."""
    import cv2
    if node.isMap():
        if 'dt' in node.keys():  # an opencv-matrix
            try:
                mat = node.mat()
            except cv2.error:
                mat = None
            if mat is not None:
                return mat
        return {key: _node_value(node.getNode(key)) for key in node.keys()}
    if node.isSeq():
        return [_node_value(node.at(i)) for i in range(node.size())]
    if node.isString():
        return node.string()
    if node.isInt() or node.isReal():
        return node.real()
    return None


def _read_filestorage(source: str) -> Dict[str, Any]:
    import cv2
    try:
        fs = cv2.FileStorage(source, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as e:  # SystemError wraps a parse error
        raise CalibrationError(source, f'calibration file {source} is not '
                               'a readable OpenCV FileStorage file '
                               f'({str(e).strip().splitlines()[-1]})') from e
    try:
        if not fs.isOpened():
            raise CalibrationError(source, f'calibration file {source} '
                                   'cannot be opened by OpenCV FileStorage')
        root = fs.root()
        return {key: _node_value(root.getNode(key)) for key in root.keys()}
    finally:
        fs.release()


def _opencv_camera(fields: Mapping[str, Any], name: str,
                   source: str) -> CameraCalibration:
    size = fields.get('image_size')
    width, height = fields.get('image_width'), fields.get('image_height')
    if size is None and (width is not None or height is not None):
        missing = 'image_height' if height is None else 'image_width'
        if width is None or height is None:
            _fail(source, f'camera {name!r}', missing, 'is missing (the '
                  'other image dimension is given)')
        size = [width, height]
    return _camera(
        dict(name=name, image_size=size,
             intrinsics=fields.get('camera_matrix'),
             distortion=fields.get('distortion_coefficients'),
             rotation=fields.get('rotation'),
             translation=fields.get('translation')), source, _OPENCV_LABELS)


def _load_opencv_file(source: str) -> List[CameraCalibration]:
    fields = _read_filestorage(source)
    if 'camera_matrix' in fields:
        name = fields.get('camera_name')
        if not isinstance(name, str) or not name:
            name = osp.splitext(osp.basename(source))[0]
        return [_opencv_camera(fields, name, source)]
    cameras = [_opencv_camera(section, key, source)
               for key, section in fields.items()
               if isinstance(section, dict) and 'camera_matrix' in section]
    if not cameras:
        raise CalibrationError(
            source, f'calibration file {source}: no field '
            "'camera_matrix', neither at the top level (one camera) nor in "
            'a top-level section (one camera per section)')
    return cameras


def load_calibration_opencv(path: PathLike) -> List[CameraCalibration]:
    """Read OpenCV FileStorage calibration(s) (YAML, JSON or XML): one
    file, or a folder of files (see the module docstring for the layout
    and how cameras are named).

    Args:
        path (str): A ``.yml``/``.yaml``/``.json``/``.xml`` file or a
            folder of them.

    Returns:
        list[CameraCalibration]: The cameras (a folder's files in sorted
        order).

    Raises:
        FileNotFoundError: If the path does not exist.
        CalibrationError: If a file is unreadable or a camera malformed.
    """
    source = str(path)
    if osp.isdir(source):
        files = sorted(f for f in os.listdir(source)
                       if f.lower().endswith(OPENCV_EXTENSIONS))
        cameras = [cam for f in files
                   for cam in _load_opencv_file(osp.join(source, f))]
        return _unique(cameras, source)
    _require_file(source)
    return _unique(_load_opencv_file(source), source)


# Human3.6M -------------------------------------------------------------------


_H36M_LABELS = dict(image_size='w, h', intrinsics='f, c',
                    distortion='k, p', rotation='R', translation='T')


def load_calibration_h36m(path: PathLike,
                          subject: Optional[str] = None
                          ) -> List[CameraCalibration]:
    """Read the cameras of one subject from a Human3.6M ``cameras.pkl``.

    Args:
        path (str): The pickle (read safely, see :func:`load_h36m_cameras`).
        subject (str, optional): ``'S1'`` ...; may be omitted when the file
            holds a single subject.

    Returns:
        list[CameraCalibration]: Named by camera id, sorted; extrinsics
        ``R = R_file.T``, ``t = -R_file.T T`` (metres).
    """
    source = str(path)
    _require_file(source)
    table = load_h36m_cameras(source)
    # S1, S2, ..., S11 (not S1, S10, S11, S2).
    subjects = sorted({s for s, _ in table}, key=lambda s: (len(s), s))
    if subject is None:
        if len(subjects) != 1:
            raise CalibrationError(
                source, f'calibration file {source} holds the subjects '
                f'{subjects}: choose one (subject=...)')
        subject = subjects[0]
    if subject not in subjects:
        raise CalibrationError(source, f'calibration file {source} has no '
                               f'subject {subject!r} (it has {subjects})')
    cameras = []
    for (s, cam_id), p in sorted(table.items()):
        if s != subject:
            continue
        rot = p['R'].T
        cameras.append(_camera(
            dict(name=cam_id, image_size=(p['w'], p['h']),
                 intrinsics=p['intrinsics'], distortion=p['distortion'],
                 rotation=rot, translation=-rot @ p['T']), source,
            _H36M_LABELS))
    return cameras


# Dispatch and rig helpers ----------------------------------------------------


def _require_file(source: str) -> None:
    if not osp.isfile(source):
        raise FileNotFoundError(f'calibration file {source} does not exist')


def load_calibration(path: PathLike, *,
                     subject: Optional[str] = None
                     ) -> List[CameraCalibration]:
    """Read a calibration in any supported layout (by extension: ``.toml``
    Anipose/Pose2Sim, ``.yml``/``.yaml``/``.json``/``.xml`` or a folder
    OpenCV FileStorage, ``.pkl`` Human3.6M).

    Args:
        path (str): The file or folder.
        subject (str, optional): Human3.6M only: the subject.

    Returns:
        list[CameraCalibration]: The cameras in the file's order.
    """
    source = str(path)
    ext = osp.splitext(source)[1].lower()
    if subject is not None and ext != '.pkl':
        raise ValueError(f'subject={subject!r} applies to Human3.6M '
                         f'cameras.pkl only, not to {source}')
    if ext == '.toml':
        return load_calibration_toml(source)
    if ext == '.pkl':
        return load_calibration_h36m(source, subject)
    if ext in OPENCV_EXTENSIONS or osp.isdir(source):
        return load_calibration_opencv(source)
    if not osp.exists(source):
        raise FileNotFoundError(f'calibration file {source} does not exist')
    raise CalibrationError(
        source, f'calibration file {source}: unknown extension {ext!r} '
        '(expected .toml, .pkl or one of ' + ', '.join(OPENCV_EXTENSIONS) +
        ', or a folder)')


def camera_arrays(cameras: Sequence[CameraCalibration]
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """The engine's camera inputs: ``intrinsics`` (V, 3, 3) and
    ``distortion`` (V, 5)."""
    return (np.stack([c.intrinsics for c in cameras]),
            np.stack([c.distortion for c in cameras]))


def select_cameras(cameras: Sequence[CameraCalibration],
                   names: Iterable[str]) -> List[CameraCalibration]:
    """The cameras called ``names``, in that order (ValueError naming the
    missing ones and the available ones)."""
    by_name = {c.name: c for c in cameras}
    names = list(names)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f'camera(s) {missing} not in the calibration '
                       f'(it has {list(by_name)})')
    return [by_name[n] for n in names]


def relative_extrinsics(cameras: Sequence[CameraCalibration],
                        reference: int = 0
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Every camera's pose relative to camera ``reference``, the frame the
    epipolar engine works in (``X_v = R_v X_ref + t_v``).

    Returns:
        tuple: ``rotation`` (V, 3, 3), ``translation`` (V, 3); the
        reference camera gets the identity and zero.
    """
    ref = cameras[reference]
    ref._require_extrinsics()
    rots, trans = [], []
    for cam in cameras:
        cam._require_extrinsics()
        rot = cam.rotation @ ref.rotation.T
        rots.append(rot)
        trans.append(cam.translation - rot @ ref.translation)
    return np.stack(rots), np.stack(trans)


def with_extrinsics(cameras: Sequence[CameraCalibration],
                    rotation: np.ndarray, translation: np.ndarray,
                    valid: Optional[np.ndarray] = None
                    ) -> List[CameraCalibration]:
    """Attach a rig (e.g. the engine's pooled rig, view 0 the world frame)
    to intrinsics-only cameras.

    Args:
        cameras (Sequence[CameraCalibration]): (V,) cameras.
        rotation (np.ndarray): (V, 3, 3), ``X_v = R_v X_world + t_v``.
        translation (np.ndarray): (V, 3).
        valid (np.ndarray, optional): (V,) bool; cameras that are not
            posed keep no extrinsics. Defaults to all.

    Returns:
        list[CameraCalibration]: Copies with the extrinsics set.
    """
    rotation = np.asarray(rotation, np.float64)
    translation = np.asarray(translation, np.float64)
    nv = len(cameras)
    if rotation.shape != (nv, 3, 3) or translation.shape != (nv, 3):
        raise ValueError(f'a rig of {nv} cameras needs rotation ({nv}, 3, '
                         f'3) and translation ({nv}, 3), got '
                         f'{rotation.shape} and {translation.shape}')
    valid = np.ones(nv, bool) if valid is None else np.asarray(valid, bool)
    return [cam.replace(rotation=rotation[v] if valid[v] else None,
                        translation=translation[v] if valid[v] else None)
            for v, cam in enumerate(cameras)]


def scale_for_distance(cameras: Sequence[CameraCalibration], first: str,
                       second: str, distance: float) -> float:
    """The factor that makes the centres of two cameras ``distance`` apart
    (e.g. a tape-measured baseline, in the unit wanted)."""
    a, b = select_cameras(cameras, [first, second])
    gap = float(np.linalg.norm(a.center - b.center))
    if not (gap > 0 and math.isfinite(gap)):
        raise ValueError(f'cameras {first!r} and {second!r} have the same '
                         'centre: no scale can be derived from them')
    if not (distance > 0 and math.isfinite(distance)):
        raise ValueError(f'distance must be positive, got {distance!r}')
    return distance / gap


def scale_rig(cameras: Sequence[CameraCalibration],
              factor: float) -> List[CameraCalibration]:
    """Scale a rig: every translation (hence every camera centre and every
    triangulated point) multiplied by ``factor``. A rig recovered from 2D
    alone has an arbitrary unit; get ``factor`` from a known length, e.g.
    :func:`scale_for_distance` or the subject's height divided by the
    triangulated height."""
    if not (factor > 0 and math.isfinite(factor)):
        raise ValueError(f'scale factor must be positive, got {factor!r}')
    return [cam.replace(translation=cam.translation * factor)
            if cam.has_extrinsics else cam for cam in cameras]
