# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""The views of one's own recording to train on, as a multi-view, top-down
dataset, and the views file that lists them.

Views file (an NPZ written by :func:`save_footage_views`, read by
:func:`load_footage_views`; never unpickled), one row per view, one person
per view:

- ``imgname`` (N,) str: ``<camera>/<file>``, the image's path relative to
  the image root (the name the pseudo-label file uses,
  ``RecordingIndex.imgnames``).
- ``camera`` (N,) str: the camera's ``name`` in the calibration.
- ``frame`` (N,) int64: the timeline frame number (the views of one frame
  are one instant).
- ``bbox`` (N, 4) float64: the person box, xyxy pixels (NaN where nobody
  was found: such a view is left out of the dataset and counted).
- ``bbox_score`` (N,) float64.
- ``keypoints`` (N, J, 3) float64, optional: x, y, score, the 2D the
  pseudo-labels were made from (any layout, named in ``meta``).
- ``meta`` (a JSON object), optional: e.g. ``recording`` (the dataset's
  ``subject``), ``keypoint_layout``, source files.
"""
import json
import logging
import os.path as osp
from collections import defaultdict
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
from mmengine.logging import print_log
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from ..utils.atomic_file import atomic_open
from ..utils.safe_pickle import FileLoadError
from .calibration import load_calibration
from .joint_layouts import JOINT_LAYOUTS, layout_metainfo_file
from .pseudo_label_file import open_npz
from .view_groups import MultiViewGroupsMixin, group_key, subset_of

#: Per-view arrays every views file has (see the module docstring).
VIEW_KEYS = ('imgname', 'camera', 'frame', 'bbox', 'bbox_score')
#: Per-view arrays a views file may have.
OPTIONAL_VIEW_KEYS = ('keypoints', )

# The kinds of dtype (numpy ``dtype.kind``) each key accepts, and what they
# are called in errors.
_DTYPE_KINDS = dict(imgname='US', camera='US', frame='iu', bbox='iuf',
                    bbox_score='iuf', keypoints='iuf')
_KIND_NAMES = dict(US='strings', iu='integers', iuf='numbers')


class FootageViewsError(FileLoadError):
    """A views file cannot be used (the message names the file and the
    key at fault)."""


# Views file -----------------------------------------------------------------


def save_footage_views(path: str,
                       imgnames: Sequence[str],
                       cameras: Sequence[str],
                       frames: Sequence[int],
                       bboxes: np.ndarray,
                       bbox_scores: np.ndarray,
                       keypoints: Optional[np.ndarray] = None,
                       meta: Optional[Mapping] = None) -> str:
    """Write a views file atomically: a half-written file never exists
    under ``path`` (it is written next to it and renamed when complete).

    Args:
        path (str): Output file; written exactly there (no suffix added).
        imgnames (Sequence[str]): (N,) ``<camera>/<file>``.
        cameras (Sequence[str]): (N,) camera names.
        frames (Sequence[int]): (N,) timeline frame numbers.
        bboxes (np.ndarray): (N, 4) xyxy pixels (NaN for no person).
        bbox_scores (np.ndarray): (N,).
        keypoints (np.ndarray, optional): (N, J, 3) x, y, score.
        meta (Mapping, optional): JSON-serialisable record (``recording``,
            ``keypoint_layout``, sources).

    Returns:
        str: ``path``.

    Raises:
        FootageViewsError: A field of the wrong shape or type, or a view
            listed twice.
        FileNotFoundError: The output folder does not exist.
    """
    arrays = dict(imgname=np.asarray(imgnames), camera=np.asarray(cameras),
                  frame=np.asarray(frames), bbox=np.asarray(bboxes),
                  bbox_score=np.asarray(bbox_scores))
    if keypoints is not None:
        arrays['keypoints'] = np.asarray(keypoints)
    arrays = _checked_views(path, arrays)
    try:
        meta_text = json.dumps(dict(meta or {}))
    except (TypeError, ValueError) as e:
        raise FootageViewsError(path, f'views file {path}: field "meta" is '
                                f'not JSON-serialisable ({e})') from e
    with atomic_open(path) as f:
        np.savez_compressed(f, **arrays, meta=np.array(meta_text))
    return path


def load_footage_views(path: str) -> Dict[str, Any]:
    """Read a views file (never unpickles).

    Returns:
        dict: ``imgname`` (N,) str, ``camera`` (N,) str, ``frame`` (N,)
        int64, ``bbox`` (N, 4) float64, ``bbox_score`` (N,) float64,
        ``keypoints`` (N, J, 3) float64 when the file has it, and ``meta``
        (a dict, empty when the file has none).

    Raises:
        FileNotFoundError: No such file.
        FootageViewsError: Not an NPZ, a key missing or unknown, an object
            array, a wrong shape or type, or a view listed twice (the
            message names the file and the key).
    """
    path = str(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'views file {path} does not exist')
    try:
        npz = open_npz(path, 'views file')
    except ValueError as e:
        raise FootageViewsError(path, str(e)) from e
    with npz:
        known = VIEW_KEYS + OPTIONAL_VIEW_KEYS + ('meta', )
        missing = [k for k in VIEW_KEYS if k not in npz.files]
        unknown = [k for k in npz.files if k not in known]
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f'lacks the key(s) {missing}')
            if unknown:
                problems.append(f'has unknown key(s) {unknown}')
            raise FootageViewsError(
                path, f'views file {path} ' + ' and '.join(problems) +
                f' (a views file has {list(VIEW_KEYS)}, optionally '
                f'{list(OPTIONAL_VIEW_KEYS)} and "meta")')
        arrays = {}
        for key in [k for k in known if k in npz.files]:
            try:
                arrays[key] = npz[key]
            except (ValueError, OSError, EOFError) as e:
                raise FootageViewsError(
                    path, f'views file {path}: key {key!r} cannot be read '
                    f'without unpickling ({e}); object arrays are '
                    'refused') from e
    meta = _parse_meta(path, arrays.pop('meta', None))
    data = _checked_views(path, arrays)
    data['meta'] = meta
    return data


def _parse_meta(path: str, value: Optional[np.ndarray]) -> Dict[str, Any]:
    if value is None:
        return {}
    try:
        meta = json.loads(str(value))
    except ValueError as e:
        raise FootageViewsError(path, f'views file {path}: key "meta" is '
                                f'not JSON ({e})') from e
    if not isinstance(meta, dict):
        raise FootageViewsError(path, f'views file {path}: key "meta" must '
                                'be a JSON object, got '
                                f'{type(meta).__name__}')
    return meta


def _checked_views(path: str,
                   arrays: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Check the per-view arrays' types, shapes and uniqueness; return them
    converted (str, int64, float64)."""
    num = len(arrays['imgname']) if arrays['imgname'].ndim else -1
    out = {}
    for key, arr in arrays.items():
        kinds = _DTYPE_KINDS[key]
        if arr.dtype.kind not in kinds:
            raise FootageViewsError(
                path, f'views file {path}: key {key!r} must hold '
                f'{_KIND_NAMES[kinds]}, got dtype {arr.dtype}')
        shape = dict(bbox=(num, 4)).get(key, (num, ))
        if key == 'keypoints':
            ok = arr.ndim == 3 and len(arr) == num and arr.shape[1] > 0 \
                and arr.shape[2] == 3
            shape = f'({num}, J, 3)'
        else:
            ok = arr.shape == shape
        if not ok or num < 0:
            raise FootageViewsError(
                path, f'views file {path}: key {key!r} has shape '
                f'{arr.shape}, expected {shape} (N = {max(num, 0)} views '
                'in "imgname")')
        if kinds == 'US':
            arr = arr.astype(str)
            if (np.char.str_len(arr) == 0).any():
                raise FootageViewsError(
                    path, f'views file {path}: key {key!r} has an empty '
                    f'name in row {int(np.argmax(np.char.str_len(arr) == 0))}')
        elif kinds == 'iu':
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float64)
        out[key] = arr
    _check_unique(path, out)
    return out


def _check_unique(path: str, views: Dict[str, np.ndarray]) -> None:
    """One row per image, and one person per camera and frame."""
    names, counts = np.unique(views['imgname'], return_counts=True)
    if len(counts) and counts.max() > 1:
        dup = int(np.argmax(counts))
        raise FootageViewsError(
            path, f"views file {path}: key 'imgname' lists "
            f'{names[dup]!r} {counts[dup]} times')
    seen = {}
    for row, key in enumerate(zip(views['camera'], views['frame'])):
        if key in seen:
            raise FootageViewsError(
                path, f"views file {path}: keys 'camera', 'frame': camera "
                f'{key[0]!r} has two views of frame {int(key[1])} (rows '
                f'{seen[key]} and {row}; one person per view)')
        seen[key] = row


def bad_boxes(bboxes: np.ndarray, bbox_scores: np.ndarray) -> np.ndarray:
    """Which person boxes cannot be used: a NaN or infinite coordinate or
    score, or no area (``x2 <= x1`` or ``y2 <= y1``).

    Args:
        bboxes (np.ndarray): (N, 4) xyxy.
        bbox_scores (np.ndarray): (N,).

    Returns:
        np.ndarray: (N,) bool.
    """
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(boxes).all(1) & np.isfinite(bbox_scores)
    with np.errstate(invalid='ignore'):
        area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return ~(finite & area)


# Dataset --------------------------------------------------------------------


@DATASETS.register_module()
class FootageMultiViewDataset(MultiViewGroupsMixin, BaseCocoStyleDataset):
    """One's own synchronised cameras as a multi-view, top-down dataset.

    Reads a views file (see the module docstring) of the views to train on,
    one person per view, a calibration file giving each camera's
    intrinsics (any layout :func:`load_calibration` reads: Anipose /
    Pose2Sim TOML, OpenCV FileStorage, Human3.6M ``cameras.pkl``), cameras
    matched by name, and the images under ``data_prefix['img']``::

        data_root/
            footage_views.npz         ann_file
            frames/cam01/000000.jpg   data_prefix['img'] + imgname

    Each item is one view. Views of the same frame share a ``view_group``
    id and :attr:`view_groups` lists the dataset indices of each group
    (sorted by camera), so that :class:`ViewGroupBatchSampler` and
    :func:`~mmpose_epipolar.apis.pseudo_labels.dataset_camera_sets` work
    as on :class:`H36MMultiViewDataset`.

    Per-view fields (``docs/conventions.md``): ``img_path``, ``img_id`` and
    ``id`` (the row of the views file), ``bbox`` (1, 4) xyxy,
    ``bbox_score`` (1,), ``keypoints`` (1, J, 2) and ``keypoints_visible``
    (1, J) zeros (footage has no labels: the pseudo-labels are attached by
    the ``EpipolarPseudoLabel`` transform), ``camera_param`` (``f``,
    ``c``, ``k``, ``p``, ``w``, ``h``, ``intrinsics`` (3, 3),
    ``distortion`` (5,)), ``subject``, ``action``, ``subaction`` (0),
    ``camera_id`` (the camera name), ``frame_idx`` (the timeline frame)
    and ``view_group``.

    The camera comes from the calibration's **intrinsics only**: rotation
    and translation, when the file has them, never enter a sample, so they
    cannot reach label making (they only serve to report how close a
    calibration-free result is).

    A view whose person box is bad (:func:`bad_boxes`: NaN, no area) is
    left out; their number is logged and kept in :attr:`bad_box_imgnames`.

    Args:
        ann_file (str): The views file, relative to ``data_root``.
            Default: ``'footage_views.npz'``.
        calib_file (str): The calibration, relative to ``data_root`` (an
            absolute path stays as it is). Every camera of the views must
            be in it. Default: ``'calibration.toml'``.
        calib_subject (str, optional): For a Human3.6M ``cameras.pkl``
            holding several subjects: the subject.
        subject (str, optional): The samples' ``subject``; ``None`` takes
            the views file's ``meta['recording']``, else ``'footage'``.
        action (str): The samples' ``action`` (one recording is one take
            of one static rig). Default: ``'recording'``.
        joint_layout (str): ``'h36m16'`` (default, the network's layout) or
            ``'h36m17'``.
        group_mode (bool): If True, leave out (and count) views whose frame
            has fewer than ``min_views`` views: the epipolar engine labels
            no lone view. Default: False.
        min_views (int): See ``group_mode``. Default: 2.
        check_images (bool): Check that every image file exists (the image
            folder and every camera folder are always checked).
            Default: False.
        data_mode (str): Only ``'topdown'`` is supported.
        metainfo (dict, optional): Overrides the layout's metainfo.
        data_root (str, optional): Root of ``ann_file``, ``calib_file``
            and ``data_prefix``.
        data_prefix (dict): Image root. Default: ``dict(img='frames/')``.
        indices (int | Sequence[int], optional): As in
            :class:`mmengine.dataset.BaseDataset`, applied last by
            :meth:`filter_data`, so the view groups are those of the views
            kept.
        filter_cfg, serialize_data, pipeline, test_mode, lazy_init,
            max_refetch: As in :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 ann_file: str = 'footage_views.npz',
                 calib_file: str = 'calibration.toml',
                 calib_subject: Optional[str] = None,
                 subject: Optional[str] = None,
                 action: str = 'recording',
                 joint_layout: str = 'h36m16',
                 group_mode: bool = False,
                 min_views: int = 2,
                 check_images: bool = False,
                 data_mode: str = 'topdown',
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img='frames/'),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000):
        name = self.__class__.__name__
        if joint_layout not in JOINT_LAYOUTS:
            raise ValueError(
                f'{name}: unknown joint_layout {joint_layout!r}, expected '
                f'one of {tuple(JOINT_LAYOUTS)}')
        if data_mode != 'topdown':
            raise ValueError(f'{name} only supports data_mode="topdown", '
                             f'got {data_mode!r}')
        if min_views < 1:
            raise ValueError(f'min_views must be >= 1, got {min_views}')
        if not calib_file:
            raise ValueError(f'{name} needs a calib_file (the cameras\' '
                             'intrinsics)')
        self.calib_file = calib_file
        self.calib_subject = calib_subject
        self.subject = subject
        self.action = str(action)
        self.joint_layout = joint_layout
        self.num_joints = int(JOINT_LAYOUTS[joint_layout]['num_keypoints'])
        self.group_mode = group_mode
        self.min_views = int(min_views)
        self.check_images = check_images
        self.indices = indices
        self.camera_params: Dict[str, dict] = {}
        #: ``imgname`` of the views left out for a bad person box.
        self.bad_box_imgnames: Tuple[str, ...] = ()
        #: ``imgname`` of the views left out in group mode.
        self.lone_view_imgnames: Tuple[str, ...] = ()
        self._init_view_groups()

        if metainfo is None:
            metainfo = dict(from_file=layout_metainfo_file(joint_layout))
        super().__init__(
            ann_file=ann_file,
            data_mode=data_mode,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            filter_cfg=filter_cfg,
            indices=None,  # see filter_data
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    @property
    def num_bad_boxes(self) -> int:
        """Views left out for a bad person box."""
        return len(self.bad_box_imgnames)

    # ------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------
    def _join_prefix(self):
        super()._join_prefix()
        if self.data_root and not osp.isabs(self.calib_file):
            self.calib_file = osp.join(self.data_root, self.calib_file)

    def _serialize_data(self) -> Tuple[np.ndarray, np.ndarray]:
        # MMEngine concatenates the pickled views, which fails on none.
        if not self.data_list:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        return super()._serialize_data()

    def load_data_list(self) -> List[dict]:
        """Read the views and the calibration into per-view dicts."""
        views = load_footage_views(self.ann_file)
        self.camera_params = self._read_cameras(views['camera'])
        if self.subject is None:
            self.subject = str(views['meta'].get('recording', 'footage'))
        self._check_image_folders(views['imgname'])

        bad = bad_boxes(views['bbox'], views['bbox_score'])
        self.bad_box_imgnames = tuple(views['imgname'][bad])
        if bad.any():
            print_log(
                f'{self.__class__.__name__}: left out {int(bad.sum())} of '
                f'{len(bad)} views of {self.ann_file} with a bad person box '
                f'(NaN or no area), e.g. {self.bad_box_imgnames[:3]}',
                logger='current', level=logging.WARNING)

        img_prefix = self.data_prefix.get('img', '') or ''
        data_list = []
        for row in np.flatnonzero(~bad):
            data_list.append(dict(
                img_id=int(row),
                id=int(row),
                img_path=osp.join(img_prefix, str(views['imgname'][row])),
                bbox=views['bbox'][row][None].astype(np.float32),
                bbox_score=views['bbox_score'][row:row + 1].astype(
                    np.float32),
                keypoints=np.zeros((1, self.num_joints, 2), np.float32),
                keypoints_visible=np.zeros((1, self.num_joints),
                                           np.float32),
                subject=self.subject,
                action=self.action,
                subaction=0,
                camera_id=str(views['camera'][row]),
                frame_idx=int(views['frame'][row]),
            ))
        return data_list

    def _read_cameras(self, cameras: np.ndarray) -> Dict[str, dict]:
        """Intrinsics (``CameraCalibration.to_camera_param``, which holds
        no rotation or translation) of every camera of the views."""
        calibration = load_calibration(self.calib_file,
                                       subject=self.calib_subject)
        by_name = {c.name: c for c in calibration}
        used = sorted(set(cameras.tolist()))
        missing = [c for c in used if c not in by_name]
        if missing:
            raise FootageViewsError(
                str(self.ann_file), f'views file {self.ann_file}: camera(s) '
                f'{missing} are not in calibration file {self.calib_file} '
                f'(it has {sorted(by_name)})')
        return {name: by_name[name].to_camera_param() for name in used}

    def _check_image_folders(self, imgnames: np.ndarray) -> None:
        img_root = self.data_prefix.get('img', '') or ''
        if '://' in img_root:
            return  # remote storage: leave it to the image loader
        if not osp.isdir(img_root or '.'):
            raise FileNotFoundError(
                f'Image folder {img_root} (data_prefix["img"]) does not '
                f'exist; it should hold the images of {self.ann_file}')
        for folder in sorted({osp.dirname(n) for n in imgnames}):
            if not osp.isdir(osp.join(img_root, folder)):
                raise FileNotFoundError(
                    f'Image folder {osp.join(img_root, folder)} of views '
                    f'file {self.ann_file} does not exist')
        if self.check_images:
            for name in imgnames:
                if not osp.isfile(osp.join(img_root, name)):
                    raise FileNotFoundError(
                        f'Image {osp.join(img_root, name)} listed in views '
                        f'file {self.ann_file} does not exist')

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg``, in group mode leave out (and count) views
        of frames with fewer than ``min_views`` views, keep ``indices``, and
        number the view groups of the views kept."""
        data_list = super().filter_data()
        if self.group_mode:
            counts = defaultdict(int)
            for d in data_list:
                counts[group_key(d)] += 1
            lone = [d for d in data_list
                    if counts[group_key(d)] < self.min_views]
            img_root = self.data_prefix.get('img', '') or '.'
            self.lone_view_imgnames = tuple(
                osp.relpath(d['img_path'], img_root).replace('\\', '/')
                for d in lone)
            if lone:
                print_log(
                    f'{self.__class__.__name__}: left out {len(lone)} views '
                    f'of {self.ann_file} whose frame has fewer than '
                    f'{self.min_views} views (group_mode)',
                    logger='current', level=logging.WARNING)
            data_list = [
                d for d in data_list
                if counts[group_key(d)] >= self.min_views
            ]
        if self.indices is not None:
            data_list = subset_of(data_list, self.indices)
        if not data_list:
            print_log(f'{self.__class__.__name__}: no usable view in '
                      f'{self.ann_file}', logger='current',
                      level=logging.WARNING)
        self._group_views([(group_key(d), d['camera_id']) for d in data_list])
        return data_list

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------
    def get_data_info(self, idx: int) -> dict:
        """Get the idx-th view with its camera's intrinsics and the layout
        metainfo."""
        data_info = super().get_data_info(idx)
        data_info['view_group'] = self._view_group_id(idx)
        # Transforms may edit the camera (e.g. a flip moves ``c``): copy.
        data_info['camera_param'] = {
            k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in self.camera_params[data_info['camera_id']].items()
        }
        return data_info
