# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Small helpers for Human3.6M: the protocol's subjects, file naming and
cameras."""
import os.path as osp
import re
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from ..utils.safe_pickle import load_pickle

#: Subjects of the standard Human3.6M protocol (EpipolarPose's): train on
#: S1, S5, S6, S7, S8, test on S9 and S11.
H36M_TRAIN_SUBJECTS = ('S1', 'S5', 'S6', 'S7', 'S8')
H36M_TEST_SUBJECTS = ('S9', 'S11')

# ``S1_Directions_1.54138969_000001.jpg``: subject, action with an optional
# ``_<subaction>`` suffix, camera id, 1-based frame number.
_H36M_IMGNAME = re.compile(r'^(?P<subject>S\d+)_(?P<sequence>[^.]+)\.'
                           r'(?P<camera_id>\w+?)_(?P<frame>\d+)\.\w+$')
_SUBACTION = re.compile(r'^(?P<action>.+?)_(?P<subaction>\d+)$')


class H36MImageName(NamedTuple):
    """The fields encoded in a Human3.6M image name."""
    subject: str
    action: str
    subaction: int
    camera_id: str
    frame_idx: int


def parse_h36m_imgname(imgname: str) -> H36MImageName:
    """Parse a Human3.6M image path into its fields.

    ``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``
    gives ``('S1', 'Directions', 1, '54138969', 1)``. Sequences recorded
    without a take number (``S5_SittingDown.54138969``) get subaction 0.

    Args:
        imgname (str): Image path; only its basename is parsed.

    Returns:
        H36MImageName: subject, action, subaction, camera id, frame index.

    Raises:
        ValueError: If the name does not follow the Human3.6M pattern.
    """
    basename = osp.basename(str(imgname))
    match = _H36M_IMGNAME.match(basename)
    if match is None:
        raise ValueError(
            f'Malformed Human3.6M image name {imgname!r}: expected '
            '"<subject>_<action>[_<subaction>].<camera_id>_<frame>.jpg", '
            'e.g. "S1_Directions_1.54138969_000001.jpg"')
    sequence = match['sequence']
    sub = _SUBACTION.match(sequence)
    if sub is None:
        action, subaction = sequence, 0
    else:
        action, subaction = sub['action'], int(sub['subaction'])
    return H36MImageName(match['subject'], action, subaction,
                         match['camera_id'], int(match['frame']))


# Field name -> number of values of a ``cameras.pkl`` record.
H36M_CAMERA_FIELDS = dict(R=9, T=3, f=2, c=2, k=3, p=2)


class CameraFieldError(KeyError):
    """A camera record lacks a field (a KeyError with a readable message:
    ``str(KeyError(msg))`` would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _required_fields() -> str:
    return ', '.join(list(H36M_CAMERA_FIELDS) + ['w', 'h'])


def _camera_field(cam: Mapping, field: str) -> Any:
    if field not in cam:
        raise CameraFieldError(
            f'camera has no field {field!r} (a Human3.6M camera needs '
            f'{_required_fields()})')
    return cam[field]


def _camera_array(cam: Mapping, field: str) -> np.ndarray:
    size = H36M_CAMERA_FIELDS[field]
    value = _camera_field(cam, field)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'camera field {field!r} must hold {size} numbers, '
                         f'got {type(value).__name__}') from err
    if array.size != size:
        raise ValueError(f'camera field {field!r} must hold {size} numbers, '
                         f'got shape {array.shape}')
    if not np.isfinite(array).all():
        raise ValueError(f'camera field {field!r} holds NaN or inf: '
                         f'{array.ravel().tolist()}')
    return array.reshape(-1)


def _camera_size(cam: Mapping, field: str) -> int:
    value = _camera_field(cam, field)
    try:
        size = int(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f'camera field {field!r} must be an image size in '
                         f'pixels, got {value!r}') from err
    if size <= 0 or size != value:
        raise ValueError(f'camera field {field!r} must be a positive whole '
                         f'number of pixels, got {value!r}')
    return size


def h36m_camera_to_param(cam: Mapping) -> Dict:
    """Convert one ``cameras.pkl`` record into the package's camera dict.

    The Human3.6M distortion model equals OpenCV's with coefficients
    ``[k1, k2, p1, p2, k3]`` (see ``docs/conventions.md``). Every field is
    checked; the messages name the field, and :func:`load_h36m_cameras`
    adds the file and the camera.

    Args:
        cam (dict): ``R`` (3, 3), ``T`` (3, 1) metres, ``f`` (2, 1),
            ``c`` (2, 1), ``k`` (3, 1), ``p`` (2, 1), ``w``, ``h``.

    Returns:
        dict: ``f`` (2,), ``c`` (2,), ``k`` (3,), ``p`` (2,), ``w``, ``h``,
        ``intrinsics`` (3, 3), ``distortion`` (5,) OpenCV order, and ``R``
        (3, 3), ``T`` (3,) (world to camera ``X_cam = R.T @ (X - T)``, for
        evaluation tooling only). All arrays float64.

    Raises:
        TypeError: If ``cam`` is not a dict.
        CameraFieldError: If a field is missing (a ``KeyError``).
        ValueError: If a field has the wrong number of values, is not
            finite, or ``w``/``h`` is not a positive whole number.
    """
    if not isinstance(cam, Mapping):
        raise TypeError('a camera record must be a dict with '
                        f'{_required_fields()}, got {type(cam).__name__}')
    f, c, k, p = (_camera_array(cam, name) for name in 'fckp')
    intrinsics = np.array([[f[0], 0., c[0]], [0., f[1], c[1]], [0., 0., 1.]])
    distortion = np.array([k[0], k[1], p[0], p[1], k[2]])
    return dict(
        f=f,
        c=c,
        k=k,
        p=p,
        w=_camera_size(cam, 'w'),
        h=_camera_size(cam, 'h'),
        intrinsics=intrinsics,
        distortion=distortion,
        R=_camera_array(cam, 'R').reshape(3, 3),
        T=_camera_array(cam, 'T'))


def load_h36m_cameras(path: str, *, name: Optional[str] = None
                      ) -> Dict[Tuple[str, str], Dict]:
    """Read a Human3.6M ``cameras.pkl`` safely and convert every camera.

    The pickle is read by :func:`mmpose_epipolar.utils.load_pickle`, which
    runs no code from the file.

    Args:
        path (str): The ``cameras.pkl`` file (MMPose's format, keyed by
            ``(subject, camera_id)``).
        name (str, optional): The file's name in messages, when ``path`` is
            a local copy. Defaults to ``path``.

    Returns:
        dict: ``{(subject, camera_id): camera dict}`` with ``str`` keys and
        the values of :func:`h36m_camera_to_param`.

    Raises:
        FileNotFoundError: If the file does not exist.
        mmpose_epipolar.utils.PickleLoadError: If the file is not a readable
            pickle, or refers to anything but containers, numbers and arrays.
        CameraFieldError: If a camera lacks a field (file, camera, field
            named).
        ValueError: If the file is not a dict of cameras or a field is
            malformed (file, camera, field named).
    """
    name = name or str(path)
    cameras = load_pickle(path, what='camera file', name=name)
    if not isinstance(cameras, Mapping):
        raise ValueError(f'camera file {name} must hold a dict keyed by '
                         f'(subject, camera_id), got {type(cameras).__name__}')
    params = {}
    for key, cam in cameras.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f'camera file {name}: key {key!r} is not a '
                             '(subject, camera_id) pair')
        try:
            params[(str(key[0]), str(key[1]))] = h36m_camera_to_param(cam)
        except CameraFieldError as err:
            raise CameraFieldError(
                f'camera file {name}: camera {key}: {err}') from None
        except (TypeError, ValueError) as err:
            raise ValueError(f'camera file {name}: camera {key}: {err}') \
                from None
    return params
