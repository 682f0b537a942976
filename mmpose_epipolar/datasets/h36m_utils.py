# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Small helpers for Human3.6M's file naming, cameras and depth encoding."""
import os.path as osp
import re
from typing import Dict, NamedTuple

import numpy as np

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


def h36m_camera_to_param(cam: Dict) -> Dict:
    """Convert one ``cameras.pkl`` record into the package's camera dict.

    The Human3.6M distortion model equals OpenCV's with coefficients
    ``[k1, k2, p1, p2, k3]`` (see ``docs/conventions.md``).

    Args:
        cam (dict): ``R`` (3, 3), ``T`` (3, 1) metres, ``f`` (2, 1),
            ``c`` (2, 1), ``k`` (3, 1), ``p`` (2, 1), ``w``, ``h``.

    Returns:
        dict: ``f`` (2,), ``c`` (2,), ``k`` (3,), ``p`` (2,), ``w``, ``h``,
        ``intrinsics`` (3, 3), ``distortion`` (5,) OpenCV order, and ``R``
        (3, 3), ``T`` (3,) (world to camera ``X_cam = R.T @ (X - T)``, for
        evaluation tooling only). All arrays float64.
    """
    f = np.asarray(cam['f'], dtype=np.float64).reshape(2)
    c = np.asarray(cam['c'], dtype=np.float64).reshape(2)
    k = np.asarray(cam['k'], dtype=np.float64).reshape(3)
    p = np.asarray(cam['p'], dtype=np.float64).reshape(2)
    intrinsics = np.array([[f[0], 0., c[0]], [0., f[1], c[1]], [0., 0., 1.]])
    distortion = np.array([k[0], k[1], p[0], p[1], k[2]])
    return dict(
        f=f,
        c=c,
        k=k,
        p=p,
        w=int(cam['w']),
        h=int(cam['h']),
        intrinsics=intrinsics,
        distortion=distortion,
        R=np.asarray(cam['R'], dtype=np.float64).reshape(3, 3),
        T=np.asarray(cam['T'], dtype=np.float64).reshape(3))
