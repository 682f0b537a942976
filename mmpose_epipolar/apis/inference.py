"""Single-image inference with a Pose ResNet (top-down volumetric) model.

:func:`init_model` builds the model offline (no pretrained download) and
:func:`inference_topdown_3d` runs it on person boxes of one image, returning
one :class:`PoseDataSample` per person with 2D keypoints, scale-free depth
and 3D keypoints (camera space when the camera is known, see
``docs/conventions.md``).
"""
import copy
import os.path as osp
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.apis import init_model as mmpose_init_model
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.structures import PoseDataSample
from mmpose.structures.bbox import bbox_xywh2xyxy

from ..geometry import lift_to_camera

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
H36M16_METAINFO_FILE = osp.join(_PACKAGE_DIR, 'datasets', 'metainfo',
                                'h36m_16.py')

#: Reference total length (mm) of the 15 bones of the H36M-16 skeleton
#: (the ``skeleton_info`` links of ``h36m_16.py``), used to estimate the
#: distance of a person when no root depth is given. Measured on the real
#: Human3.6M ground truth shipped with MMPose's test data (one frame each of
#: S1, S5, S7 and S8: 4138, 3981, 4072 and 4229 mm, mean 4105 mm); adult
#: subjects differ from it by a few percent, and so does the estimated
#: distance.
REFERENCE_SKELETON_LENGTH_MM = 4105.0

#: Bones of the H36M-16 layout as (parent, child) joint indices: the links
#: of ``h36m_16.py``'s ``skeleton_info``, in its order.
H36M16_BONES = tuple(
    (int(a), int(b)) for a, b in parse_pose_metainfo(
        dict(from_file=H36M16_METAINFO_FILE))['skeleton_links'])

CameraLike = Union[np.ndarray, Sequence, Dict]


def _resolve_metainfo(metainfo: Optional[dict],
                      config_dir: Optional[str]) -> dict:
    """A dataset ``metainfo`` whose ``from_file`` exists from any cwd.

    Configs name the H36M-16 file relative to the repository root; our
    datasets bring no class-level ``METAINFO``. Both fall back to the
    package's own ``h36m_16.py``.
    """
    if not metainfo or ('from_file' not in metainfo
                        and 'dataset_name' not in metainfo):
        return dict(from_file=H36M16_METAINFO_FILE)
    metainfo = dict(metainfo)
    from_file = metainfo.get('from_file')
    if from_file and not osp.isfile(from_file):
        candidates = [
            osp.join(osp.dirname(_PACKAGE_DIR), from_file),
            osp.join(config_dir or '', from_file)
        ]
        if osp.basename(from_file) == osp.basename(H36M16_METAINFO_FILE):
            candidates.append(H36M16_METAINFO_FILE)
        for candidate in candidates:
            if osp.isfile(candidate):
                metainfo['from_file'] = candidate
                break
    return metainfo


def _dataset_has_metainfo(dataset_cfg: dict) -> bool:
    """Whether MMPose can read a complete metainfo from a dataset config."""
    if 'metainfo' in dataset_cfg:
        return True
    from mmpose.registry import DATASETS
    dataset_type = dataset_cfg.get('type')
    cls = dataset_type if isinstance(dataset_type, type) else \
        DATASETS.get(dataset_type) if dataset_type else None
    # MMPose's own datasets name their metainfo file (``from_file``), which
    # MMPose resolves inside its package.
    metainfo = getattr(cls, 'METAINFO', {}) if cls is not None else {}
    return 'dataset_name' in metainfo or 'from_file' in metainfo


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a pose estimator from a config, offline.

    A thin layer over :func:`mmpose.apis.init_model` that never downloads:
    the backbone's ``init_cfg`` (e.g. ``torchvision://resnet50``) is always
    dropped (weights come from ``checkpoint`` or stay random), a checkpoint
    must be a local file, and the dataset metainfo falls back to the
    package's H36M-16 layout where the config's datasets bring none (or name
    it relative to the repository root).

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Local checkpoint file. ``None`` keeps the
            random initialisation (useful for mechanics tests only).
        device (str): Device, e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``.

    Raises:
        FileNotFoundError: If the config or checkpoint file does not exist.
        ValueError: If ``checkpoint`` is a URL.
    """
    config_dir = None
    if isinstance(config, (str, Path)):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file {config} does not exist')
        config_dir = osp.dirname(osp.abspath(config))
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError('config must be a filename or Config object, '
                        f'got {type(config)}')
    if checkpoint is not None:
        checkpoint = str(checkpoint)
        if '://' in checkpoint:
            raise ValueError(
                f'checkpoint {checkpoint} is a URL: download it yourself '
                'and pass the local file (init_model never downloads)')
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'checkpoint file {checkpoint} does not exist')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    # Weights come from the checkpoint or stay random: never fetch the
    # ImageNet initialisation at inference time.
    config.model.backbone.init_cfg = None

    init_default_scope(config.get('default_scope', 'mmpose'))
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset_cfg = (config.get(split) or {}).get('dataset')
        if dataset_cfg is not None and (
                'metainfo' in dataset_cfg
                or not _dataset_has_metainfo(dataset_cfg)):
            dataset_cfg.metainfo = _resolve_metainfo(
                dataset_cfg.get('metainfo'), config_dir)
    if 'train_dataloader' not in config:
        config.train_dataloader = dict(
            dataset=dict(metainfo=dict(from_file=H36M16_METAINFO_FILE)))
    if config.get('test_dataloader') is None and config.get('test_pipeline'):
        # A training-only config (footage has no test split): infer with
        # its test pipeline.
        config.test_dataloader = dict(
            dataset=dict(pipeline=config.test_pipeline))

    # cfg_options were merged above; mmpose's init_model then only drops
    # the backbone init_cfg, which is already None.
    return mmpose_init_model(config, checkpoint, device=device)


def parse_intrinsics(camera: CameraLike) -> np.ndarray:
    """The (3, 3) camera matrix of a camera given in any accepted form.

    Args:
        camera (np.ndarray | list | dict): A (3, 3) matrix ``[[fx, 0, cx],
            [0, fy, cy], [0, 0, 1]]``; or a dict with ``intrinsics`` (3, 3);
            or a dict with ``f`` (2,) and ``c`` (2,) (MMPose's camera
            parameters, e.g. Human3.6M's ``cameras.pkl`` entries).

    Returns:
        np.ndarray: Intrinsics (3, 3), float64.

    Raises:
        ValueError: If the camera has the wrong shape or non-positive or
            non-finite focal lengths.
    """
    if isinstance(camera, dict):
        if 'intrinsics' in camera:
            intrinsics = np.asarray(camera['intrinsics'], np.float64)
        elif 'f' in camera and 'c' in camera:
            f = np.asarray(camera['f'], np.float64).reshape(-1)
            c = np.asarray(camera['c'], np.float64).reshape(-1)
            if f.size != 2 or c.size != 2:
                raise ValueError('camera `f` and `c` must have 2 values each, '
                                 f'got {f.size} and {c.size}')
            intrinsics = np.array([[f[0], 0, c[0]], [0, f[1], c[1]],
                                   [0, 0, 1]])
        else:
            raise ValueError('camera dict needs `intrinsics` (3, 3) or `f` '
                             f'and `c`; got keys {sorted(camera)}')
    else:
        intrinsics = np.asarray(camera, np.float64)
    if intrinsics.shape != (3, 3):
        raise ValueError(
            f'camera intrinsics must be (3, 3), got {intrinsics.shape}')
    if not np.all(np.isfinite(intrinsics)) or intrinsics[0, 0] <= 0 \
            or intrinsics[1, 1] <= 0:
        raise ValueError('camera intrinsics must be finite with positive '
                         f'focal lengths, got {intrinsics.tolist()}')
    return intrinsics


def skeleton_length(points: np.ndarray,
                    bones: Sequence[Sequence[int]] = H36M16_BONES
                    ) -> np.ndarray:
    """Total bone length of skeletons.

    Args:
        points (np.ndarray): Joints (..., J, 3).
        bones (Sequence[tuple[int, int]]): Joint index pairs.

    Returns:
        np.ndarray: Sum of the bone lengths (...,).
    """
    points = np.asarray(points, np.float64)
    bones = np.asarray(bones, np.int64)
    return np.linalg.norm(
        points[..., bones[:, 0], :] - points[..., bones[:, 1], :],
        axis=-1).sum(axis=-1)


def estimate_root_depth(
        keypoints: np.ndarray,
        depth: np.ndarray,
        intrinsics: np.ndarray,
        reference_length: float = REFERENCE_SKELETON_LENGTH_MM,
        bones: Sequence[Sequence[int]] = H36M16_BONES) -> np.ndarray:
    """Distance of people from their 2D pose and scale-free depth.

    The metric lift of ``docs/conventions.md`` is linear in the root depth:
    ``lift_to_camera(kpts, depth, K, Z_root) = Z_root * lift_to_camera(kpts,
    depth, K, 1)``. So is the person's total bone length, hence
    ``Z_root = reference_length / skeleton_length(lift(..., 1))``. This is
    exact when the person's skeleton length equals ``reference_length``;
    the error in depth is the person's relative deviation from it (a few
    percent for adults with the Human3.6M default), plus the prediction's
    own error in bone lengths.

    Args:
        keypoints (np.ndarray): Undistorted image pixels (N, J, 2).
        depth (np.ndarray): Root-relative scale-free depth (N, J), pixels.
        intrinsics (np.ndarray): Camera matrix (3, 3) or (N, 3, 3).
        reference_length (float): Assumed total bone length, in the unit
            wanted for the root depth (mm by default).
        bones (Sequence[tuple[int, int]]): Bones summed.

    Returns:
        np.ndarray: Root depth (N,) in the unit of ``reference_length``; NaN
        where the skeleton is degenerate (zero length or non-finite input).
    """
    keypoints = np.asarray(keypoints, np.float64)
    depth = np.asarray(depth, np.float64)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 \
            or depth.shape != keypoints.shape[:2]:
        raise ValueError('keypoints must be (N, J, 2) and depth (N, J), got '
                         f'{keypoints.shape} and {depth.shape}')
    unit = lift_to_camera(keypoints, depth, intrinsics,
                          np.ones(keypoints.shape[0]))
    length = skeleton_length(unit, bones)
    with np.errstate(divide='ignore', invalid='ignore'):
        root_depth = reference_length / length
    return np.where(np.isfinite(root_depth) & (length > 0), root_depth,
                    np.nan)


def _bboxes_and_scores(bboxes, bbox_format: str, img_shape):
    """Boxes (N, 4) xyxy and scores (N,) from user input."""
    if bbox_format not in ('xyxy', 'xywh'):
        raise ValueError(
            f'bbox_format must be "xyxy" or "xywh", got "{bbox_format}"')
    if bboxes is None:
        h, w = img_shape[:2]
        return (np.array([[0, 0, w, h]], np.float32),
                np.ones(1, np.float32))
    bboxes = np.asarray(bboxes, np.float32)
    if bboxes.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    if bboxes.ndim == 1:
        bboxes = bboxes[None]
    if bboxes.ndim != 2 or bboxes.shape[1] not in (4, 5):
        raise ValueError('bboxes must have shape (N, 4) or (N, 5) (with a '
                         f'score column), got {bboxes.shape}')
    scores = bboxes[:, 4].copy() if bboxes.shape[1] == 5 else np.ones(
        len(bboxes), np.float32)
    boxes = bboxes[:, :4].copy()
    if bbox_format == 'xywh':
        boxes = bbox_xywh2xyxy(boxes)
    if not np.all(np.isfinite(boxes)) or np.any(boxes[:, 2:] <= boxes[:, :2]):
        raise ValueError(f'bboxes must be finite with positive size, got '
                         f'{boxes.tolist()} ({bbox_format})')
    return boxes, scores


def _load_image(img: Union[str, np.ndarray]) -> np.ndarray:
    """BGR image (H, W, 3) from a path or an array."""
    if isinstance(img, (str, Path)):
        import mmcv
        if not osp.isfile(img):
            raise FileNotFoundError(f'image file {img} does not exist')
        try:
            image = mmcv.imread(str(img))
        except Exception as err:  # mmcv raises various decoder errors
            raise ValueError(f'cannot read image file {img}: {err}') from err
        if image is None:
            raise ValueError(f'cannot read image file {img}')
        return image
    image = np.asarray(img)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'img must be a (H, W, 3) BGR array, got shape '
                         f'{image.shape}')
    return image


def _lift_with_estimated_depth(sample: PoseDataSample,
                               intrinsics: np.ndarray,
                               reference_length: float) -> None:
    """Replace root-relative 3D by camera 3D at an estimated distance."""
    pred = sample.pred_instances
    root_depth = estimate_root_depth(pred.keypoints, pred.keypoints_depth,
                                     intrinsics, reference_length)
    if not np.all(np.isfinite(root_depth)):
        warnings.warn('degenerate predicted skeleton: the root depth '
                      'cannot be estimated, 3D stays root-relative')
        return
    pred.keypoints_3d = lift_to_camera(pred.keypoints, pred.keypoints_depth,
                                       intrinsics,
                                       root_depth).astype(np.float32)
    pred.root_depth = root_depth.astype(np.float32)
    pred.set_metainfo(
        dict(keypoints_3d_unit='camera', root_depth_source='estimated'))


def inference_topdown_3d(
        model: nn.Module,
        img: Union[str, np.ndarray],
        bboxes: Optional[Union[Sequence, np.ndarray]] = None,
        bbox_format: str = 'xyxy',
        camera: Optional[CameraLike] = None,
        root_depth: Optional[Union[float, Sequence[float],
                                   np.ndarray]] = None,
        reference_length: float = REFERENCE_SKELETON_LENGTH_MM
) -> List[PoseDataSample]:
    """Estimate the 3D pose of each person box in one image.

    Runs the config's test pipeline (crop, normalisation, flip test as
    configured) like :func:`mmpose.apis.inference_topdown`, with the camera
    and root depth attached to each sample so that the model lifts to 3D.

    Each returned sample's ``pred_instances`` (one instance) holds:

    - ``keypoints`` (1, J, 2): image pixels; ``keypoint_scores`` (1, J);
    - ``keypoints_depth`` (1, J): root-relative scale-free depth in image
      pixels, ``f (Z - Z_root) / Z_root``;
    - ``keypoints_3d`` (1, J, 3) and the metainfo ``keypoints_3d_unit``:

      * ``'camera'``: camera frame (x right, y down, z forward) in the unit of
        the root depth (mm by default). Needs ``camera``. The root depth is
        ``root_depth`` when given (metainfo ``root_depth_source='given'``),
        else estimated by :func:`estimate_root_depth` from the predicted
        skeleton, assuming its total bone length is ``reference_length``
        (``'estimated'``; ``pred_instances.root_depth`` (1,) holds it).
      * ``'image_px_root_relative'`` (no camera): x and y relative to the
        root, and the depth, all in image pixels (weak perspective: the
        metric pose scaled by ``f / Z_root``).
    - ``bboxes`` (1, 4) xyxy and ``bbox_scores`` (1,).

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | np.ndarray): Image file or BGR array (H, W, 3).
        bboxes (array-like, optional): Person boxes (N, 4), or (N, 5) with a
            score column. ``None``: the whole image is one box. Empty: no
            people, an empty list is returned.
        bbox_format (str): ``'xyxy'`` or ``'xywh'``.
        camera (array-like | dict, optional): Intrinsics, see
            :func:`parse_intrinsics`. The 2D keypoints are used as they are
            (no undistortion).
        root_depth (float | array-like, optional): Metric depth of each
            person's root (pelvis): one value for all, or (N,).
        reference_length (float): Skeleton length for the root depth
            estimate (see :data:`REFERENCE_SKELETON_LENGTH_MM`).

    Returns:
        list[PoseDataSample]: One sample per box, in box order.
    """
    image = _load_image(img)
    boxes, box_scores = _bboxes_and_scores(bboxes, bbox_format, image.shape)
    if len(boxes) == 0:
        return []
    intrinsics = parse_intrinsics(camera) if camera is not None else None
    root_depths = None
    if root_depth is not None:
        if intrinsics is None:
            raise ValueError('root_depth needs camera intrinsics')
        root_depths = np.asarray(root_depth, np.float64).reshape(-1)
        if root_depths.size == 1:
            root_depths = np.repeat(root_depths, len(boxes))
        if root_depths.size != len(boxes) or not np.all(
                np.isfinite(root_depths)) or np.any(root_depths <= 0):
            raise ValueError(
                'root_depth must be one positive value or one per box '
                f'({len(boxes)}), got {np.asarray(root_depth).tolist()}')

    init_default_scope(model.cfg.get('default_scope', 'mmpose'))
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    data_list = []
    for i, box in enumerate(boxes):
        data_info = dict(
            img=image,
            bbox=box[None],
            bbox_score=box_scores[i:i + 1],
            img_path=str(img) if isinstance(img, (str, Path)) else '')
        data_info.update(model.dataset_meta)
        data = pipeline(data_info)
        # Set after packing: the config's meta_keys need not list them.
        extra = dict()
        if intrinsics is not None:
            extra['camera_param'] = dict(intrinsics=intrinsics)
        if root_depths is not None:
            extra['root_depth'] = root_depths[i:i + 1]
        data['data_samples'].set_metainfo(extra)
        data_list.append(data)

    with torch.no_grad():
        results = model.test_step(pseudo_collate(data_list))

    for sample in results:
        pred = sample.pred_instances
        if 'keypoints_3d' not in pred:
            raise RuntimeError(
                f'{type(model).__name__} gave no keypoints_3d: use a '
                'TopdownVolumetricEstimator config')
        if root_depths is not None:
            pred.root_depth = np.asarray(
                sample.metainfo['root_depth'], np.float32)
            pred.set_metainfo(dict(root_depth_source='given'))
        elif intrinsics is not None:
            _lift_with_estimated_depth(sample, intrinsics, reference_length)
    return results
