# Copyright (c) mmpose-epipolar contributors. All rights reserved.
import logging
import os.path as osp
from collections import defaultdict
from typing import (
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
from mmengine.fileio import exists, get_local_path
from mmengine.logging import print_log
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from ..geometry.depth_encoding import encode_relative_depth
from .h36m_utils import (
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    H36MImageName,
    load_h36m_cameras,
    parse_h36m_imgname,
)
from .joint_layouts import JOINT_LAYOUTS, layout_metainfo_file
from .view_groups import MultiViewGroupsMixin, group_key, subset_of

# Which npz keys each mode reads. Self-supervised training must not see any
# ground truth, so its mode reads only the image list and the person boxes.
_KEYS_PER_MODE = {
    'supervised': ('imgname', 'center', 'scale', 'part', 'S'),
    'test': ('imgname', 'center', 'scale', 'part', 'S'),
    'self_supervised': ('imgname', 'center', 'scale'),
}


@DATASETS.register_module()
class H36MMultiViewDataset(MultiViewGroupsMixin, BaseCocoStyleDataset):
    """Human3.6M as a multi-view, top-down dataset.

    Reads MMPose's preprocessed Human3.6M layout::

        data_root/
            annotation_body3d/cameras.pkl           (subject, camera_id) -> cam
            annotation_body3d/fps50/h36m_train.npz  imgname, center, scale,
                                                    part (N, 17, 3),
                                                    S (N, 17, 4) metres
            images/S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg

    Each item is one view (one image, one person, MMPose top-down style).
    Views of the same instant, i.e. the same ``(subject, action, subaction,
    frame)`` seen by different cameras, share a ``view_group`` id, and
    :attr:`view_groups` lists the dataset indices of each group (sorted by
    camera id), so that :class:`ViewGroupBatchSampler` can batch whole
    groups.

    Per-view fields (``docs/conventions.md``): ``img_path``, ``img_id``,
    ``id``, ``bbox`` (1, 4) xyxy (square, side ``scale * 200`` around
    ``center``), ``bbox_score`` (1,), ``keypoints`` (1, J, 2),
    ``keypoints_visible`` (1, J), ``keypoints_depth`` (1, J) =
    ``f_mean * (Z - Z_root) / Z_root``, ``camera_param`` (``f`` (2,), ``c``
    (2,), ``k`` (3,), ``p`` (2,), ``w``, ``h``, ``intrinsics`` (3, 3),
    ``distortion`` (5,) OpenCV ``[k1, k2, p1, p2, k3]``, and ``R`` (3, 3),
    ``T`` (3,) for evaluation tooling only), ``subject``, ``action``,
    ``subaction`` (int, 0 for sequences without a take number),
    ``camera_id``, ``frame_idx`` (1-based, from the file name) and
    ``view_group``. ``mode='supervised'`` and ``mode='test'`` add
    ``keypoints_cam`` (1, J, 3), camera frame, millimetres.

    ``mode='self_supervised'`` is label-free by construction: the dataset
    reads only ``imgname``, ``center`` and ``scale`` from the annotation
    file (never ``S`` or ``part``, which may be absent). Its ``keypoints``
    (1, J, 2) and ``keypoints_visible`` (1, J) are zeros and there is no
    ``keypoints_depth``/``keypoints_cam``: the pseudo-labels (``keypoints``,
    ``keypoints_visible``, ``keypoints_depth``) are attached later by the
    ``EpipolarPseudoLabel`` transform, which looks samples up by
    ``img_path``. The zeros only let MMPose's top-down transforms run.

    Args:
        ann_file (str): The ``.npz`` annotation file, relative to
            ``data_root``.
            Default: ``'annotation_body3d/fps50/h36m_train.npz'``.
        camera_param_file (str): The ``cameras.pkl`` file, relative to
            ``data_root``. Default: ``'annotation_body3d/cameras.pkl'``.
        mode (str): ``'supervised'``, ``'test'`` or ``'self_supervised'``.
            Default: ``'supervised'``.
        subjects (Sequence[str], optional): Subjects to keep. ``None`` means
            :attr:`TRAIN_SUBJECTS` (or :attr:`TEST_SUBJECTS` when
            ``test_mode``).
        frame_interval (int, optional): Keep frames whose 1-based index
            ``f`` has ``(f - 1) % frame_interval == 0``; 1 keeps all. The
            rule uses the frame number in the file name, so every camera
            keeps the same instants. ``None`` means
            :attr:`TRAIN_FRAME_INTERVAL` (or :attr:`TEST_FRAME_INTERVAL`).
        joint_layout (str): ``'h36m16'`` (default, the network's layout) or
            ``'h36m17'`` (MMPose's Human3.6M metainfo).
        group_mode (bool): If True, drop views whose group has fewer than
            ``min_views`` views (for multi-view training). Otherwise all
            views are kept, a lone view forming its own group.
            Default: False.
        min_views (int): See ``group_mode``. Default: 2.
        check_images (bool): Check that every image file exists while
            loading (slow on the full dataset). The image folder and every
            sequence folder are always checked. Default: False.
        data_mode (str): Only ``'topdown'`` is supported.
        metainfo (dict, optional): Overrides the layout's metainfo.
        data_root (str, optional): Root of ``ann_file``,
            ``camera_param_file`` and ``data_prefix``.
        data_prefix (dict): Image folder. Default: ``dict(img='images/')``.
        indices (int | Sequence[int], optional): As in
            :class:`mmengine.dataset.BaseDataset`, applied last by
            :meth:`filter_data` so that the view groups are those of the
            views kept.
        filter_cfg, serialize_data, pipeline, test_mode, lazy_init,
            max_refetch: As in :class:`mmengine.dataset.BaseDataset`.
    """

    TRAIN_SUBJECTS: Tuple[str, ...] = H36M_TRAIN_SUBJECTS
    TEST_SUBJECTS: Tuple[str, ...] = H36M_TEST_SUBJECTS
    # The paper's protocol: every 5th frame for training, every 64th frame
    # for evaluation.
    TRAIN_FRAME_INTERVAL: int = 5
    TEST_FRAME_INTERVAL: int = 64
    MODES = tuple(_KEYS_PER_MODE)

    def __init__(self,
                 ann_file: str = 'annotation_body3d/fps50/h36m_train.npz',
                 camera_param_file: str = 'annotation_body3d/cameras.pkl',
                 mode: str = 'supervised',
                 subjects: Optional[Sequence[str]] = None,
                 frame_interval: Optional[int] = None,
                 joint_layout: str = 'h36m16',
                 group_mode: bool = False,
                 min_views: int = 2,
                 check_images: bool = False,
                 data_mode: str = 'topdown',
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img='images/'),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000):
        if mode not in self.MODES:
            raise ValueError(f'{self.__class__.__name__}: unknown mode '
                             f'{mode!r}, expected one of {self.MODES}')
        if joint_layout not in JOINT_LAYOUTS:
            raise ValueError(
                f'{self.__class__.__name__}: unknown joint_layout '
                f'{joint_layout!r}, expected one of {tuple(JOINT_LAYOUTS)}')
        if data_mode != 'topdown':
            raise ValueError(f'{self.__class__.__name__} only supports '
                             f'data_mode="topdown", got {data_mode!r}')
        if frame_interval is None:
            frame_interval = (
                self.TEST_FRAME_INTERVAL
                if test_mode else self.TRAIN_FRAME_INTERVAL)
        if int(frame_interval) < 1:
            raise ValueError(f'frame_interval must be >= 1, got '
                             f'{frame_interval}')
        if subjects is None:
            subjects = self.TEST_SUBJECTS if test_mode else self.TRAIN_SUBJECTS
        if isinstance(subjects, str):
            subjects = (subjects, )
        if min_views < 1:
            raise ValueError(f'min_views must be >= 1, got {min_views}')

        self.mode = mode
        self.subjects = tuple(subjects)
        self.frame_interval = int(frame_interval)
        self.joint_layout = joint_layout
        self.layout_index = np.asarray(
            JOINT_LAYOUTS[joint_layout]['from_h36m17'], dtype=np.int64)
        self.group_mode = group_mode
        self.min_views = int(min_views)
        self.check_images = check_images
        self.camera_param_file = camera_param_file
        self.indices = indices
        # Set by :meth:`_group_views` whenever the views change.
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

    # ------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------
    def _join_prefix(self):
        super()._join_prefix()
        if self.camera_param_file and self.data_root and not osp.isabs(
                self.camera_param_file):
            self.camera_param_file = osp.join(self.data_root,
                                              self.camera_param_file)

    def _serialize_data(self) -> Tuple[np.ndarray, np.ndarray]:
        # MMEngine concatenates the pickled views, which fails on none.
        if not self.data_list:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        return super()._serialize_data()

    def load_data_list(self) -> List[dict]:
        """Read the annotation and camera files into per-view dicts."""
        ann = self._read_annotation_arrays()
        self.camera_params = self._read_cameras()
        names = [parse_h36m_imgname_in(self.ann_file, n)
                 for n in ann['imgname']]
        keep = self._select_rows(names)
        self._check_cameras(names, ann['imgname'], keep)
        self._check_image_folders(ann['imgname'], keep)

        n_views = len(keep)
        data_list = []
        if n_views == 0:
            return data_list
        rows = np.asarray(keep, dtype=np.int64)
        bboxes = _center_scale_to_xyxy(ann['center'][rows],
                                       ann['scale'][rows])
        labels = self._ground_truth_labels(ann, rows, names)

        img_prefix = self.data_prefix.get('img', '') or ''
        for i, row in enumerate(keep):
            info = names[row]
            data_info = dict(
                img_id=int(row),
                id=int(row),
                img_path=osp.join(img_prefix, str(ann['imgname'][row])),
                bbox=bboxes[i:i + 1],
                bbox_score=np.ones(1, dtype=np.float32),
                subject=info.subject,
                action=info.action,
                subaction=info.subaction,
                camera_id=info.camera_id,
                frame_idx=info.frame_idx,
            )
            data_info.update({k: v[i:i + 1] for k, v in labels.items()})
            data_list.append(data_info)
        return data_list

    def _read_annotation_arrays(self) -> Dict[str, np.ndarray]:
        """Read exactly the npz keys this mode needs (never more)."""
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'Annotation file {self.ann_file} does not exist')
        needed = _KEYS_PER_MODE[self.mode]
        arrays = {}
        with get_local_path(self.ann_file) as local_path:
            with np.load(local_path, allow_pickle=False) as npz:
                available = set(npz.files)
                for key in needed:
                    if key not in available:
                        raise KeyError(
                            f'Annotation file {self.ann_file} has no key '
                            f'{key!r} (needed for mode={self.mode!r}); it '
                            f'has {sorted(available)}')
                    # Per-key access: an npz member is read only when asked.
                    arrays[key] = npz[key]
        _check_annotation_shapes(self.ann_file, arrays)
        return arrays

    def _read_cameras(self) -> Dict[Tuple[str, str], dict]:
        if not self.camera_param_file:
            raise ValueError(f'{self.__class__.__name__} needs a '
                             'camera_param_file (cameras.pkl)')
        if not exists(self.camera_param_file):
            raise FileNotFoundError(
                f'Camera file {self.camera_param_file} does not exist')
        # Camera files are shared around: read them without running code.
        with get_local_path(self.camera_param_file) as local_path:
            return load_h36m_cameras(
                local_path, name=str(self.camera_param_file))

    def _select_rows(self, names: List[H36MImageName]) -> List[int]:
        """Rows of the annotation file in the requested split."""
        subjects = set(self.subjects)
        return [
            row for row, n in enumerate(names) if n.subject in subjects and
            (n.frame_idx - 1) % self.frame_interval == 0
        ]

    def _check_cameras(self, names: List[H36MImageName],
                       imgnames: np.ndarray, rows: List[int]) -> None:
        for row in rows:
            key = (names[row].subject, names[row].camera_id)
            if key not in self.camera_params:
                raise KeyError(
                    f'Camera {key} of image {imgnames[row]!r} (annotation '
                    f'file {self.ann_file}) is not in camera file '
                    f'{self.camera_param_file}')

    def _check_image_folders(self, imgnames: np.ndarray,
                             rows: List[int]) -> None:
        img_root = self.data_prefix.get('img', '') or ''
        if '://' in img_root:
            return  # remote storage: leave it to the image loader
        if not osp.isdir(img_root or '.'):
            raise FileNotFoundError(
                f'Image folder {img_root} (data_prefix["img"]) does not '
                f'exist; it should hold the images of {self.ann_file}')
        checked = set()
        for row in rows:
            path = osp.join(img_root, str(imgnames[row]))
            folder = osp.dirname(path)
            if folder not in checked:
                if not osp.isdir(folder):
                    raise FileNotFoundError(
                        f'Image folder {folder} of {imgnames[row]!r} '
                        f'(annotation file {self.ann_file}) does not exist')
                checked.add(folder)
            if self.check_images and not osp.isfile(path):
                raise FileNotFoundError(
                    f'Image {path} listed in {self.ann_file} does not exist')

    def _ground_truth_labels(
            self, ann: Dict[str, np.ndarray], rows: np.ndarray,
            names: List[H36MImageName]) -> Dict[str, np.ndarray]:
        """Labels of the selected rows, shaped (N, J, ...).

        Self-supervised mode gets placeholder zeros and no depth/3D.
        """
        num_joints = len(self.layout_index)
        if self.mode == 'self_supervised':
            return dict(
                keypoints=np.zeros((len(rows), num_joints, 2), np.float32),
                keypoints_visible=np.zeros((len(rows), num_joints),
                                           np.float32))
        part = ann['part'][rows][:, self.layout_index]
        points_cam = ann['S'][rows][:, self.layout_index, :3]
        z_root = points_cam[:, 0, 2]
        bad = np.flatnonzero(~(z_root > 0))
        if len(bad):
            raise ValueError(
                f'Annotation file {self.ann_file}: key "S" has a root depth '
                f'<= 0 (or NaN) for image {ann["imgname"][rows[bad[0]]]!r}')
        focal = np.stack([
            self.camera_params[(names[r].subject,
                                names[r].camera_id)]['f'].reshape(2)
            for r in rows
        ])
        return dict(
            keypoints=part[..., :2].astype(np.float32),
            keypoints_visible=np.minimum(1, part[..., 2]).astype(np.float32),
            keypoints_depth=encode_relative_depth(
                points_cam[..., 2].astype(np.float64),
                focal.mean(axis=-1)).astype(np.float32),
            keypoints_cam=(points_cam * 1000.).astype(np.float32))

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg``, in group mode drop small view groups, keep
        ``indices``, and number the view groups of the views kept.

        MMEngine's ``full_init`` only serialises the list after this, so the
        groups are computed here, while the views are still dicts.
        """
        data_list = super().filter_data()
        if self.group_mode:
            counts = defaultdict(int)
            for d in data_list:
                counts[group_key(d)] += 1
            data_list = [
                d for d in data_list
                if counts[group_key(d)] >= self.min_views
            ]
        if self.indices is not None:
            data_list = subset_of(data_list, self.indices)
        if not data_list:
            print_log(
                f'{self.__class__.__name__}: no view of subjects '
                f'{self.subjects} with frame_interval={self.frame_interval} '
                f'in {self.ann_file}', logger='current', level=logging.WARNING)
        self._group_views([(group_key(d), d['camera_id']) for d in data_list])
        return data_list

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------
    def get_data_info(self, idx: int) -> dict:
        """Get the idx-th view with its camera and the layout metainfo."""
        data_info = super().get_data_info(idx)
        data_info['view_group'] = self._view_group_id(idx)
        cam = self.camera_params[(data_info['subject'],
                                  data_info['camera_id'])]
        # Transforms may edit the camera (e.g. a flip moves ``c``): copy.
        data_info['camera_param'] = {
            k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in cam.items()
        }
        return data_info


def parse_h36m_imgname_in(ann_file: str, imgname: str) -> H36MImageName:
    """:func:`parse_h36m_imgname` with the annotation file in the error."""
    try:
        return parse_h36m_imgname(imgname)
    except ValueError as e:
        raise ValueError(f'Annotation file {ann_file}, key "imgname": '
                         f'{e}') from None


def _center_scale_to_xyxy(center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Square H36M boxes (side ``scale * 200``) as xyxy, shape (N, 4)."""
    half = (np.asarray(scale, dtype=np.float64).reshape(-1) * 100.)[:, None]
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    return np.concatenate([center - half, center + half],
                          axis=1).astype(np.float32)


def _check_annotation_shapes(ann_file: str, arrays: Dict[str,
                                                         np.ndarray]) -> None:
    n = len(arrays['imgname'])
    expected = {
        'imgname': (n, ),
        'center': (n, 2),
        'scale': (n, ),
        'part': (n, 17, 3),
        'S': (n, 17, 4),
    }
    for key, arr in arrays.items():
        shape = expected[key]
        if key == 'scale' and arr.ndim == 2 and arr.shape[1] == 1:
            arrays[key] = arr = arr.reshape(-1)
        if arr.shape != shape:
            raise ValueError(
                f'Annotation file {ann_file}: key {key!r} has shape '
                f'{arr.shape}, expected {shape}')


