# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Epipolar 3D pseudo-labels from multi-view 2D predictions, as library
functions: read predictions, group them into synchronised camera sets,
build the labels with the epipolar engine, write the label file.

:func:`make_h36m_pseudo_labels` is the whole path for Human3.6M-named
images; ``tools/make_pseudo_labels.py``, the self-supervised pipeline and
any other data source (a recording of one's own cameras) share
:func:`build_pseudo_labels` and :func:`save_pseudo_labels`.

Input 2D (:func:`load_predictions`), one of:

- the pickle written by MMPose's ``DumpResults`` metric
  (``tools/test.py CONFIG CKPT --dump preds.pkl``): a list of dicts with
  ``img_path`` and ``pred_instances`` holding ``keypoints`` (N, J, 2) and
  ``keypoint_scores`` (N, J) (the highest-scoring instance is used);
- an NPZ with ``imgname`` (N,) and ``keypoints`` (N, J, 3) (x, y, score).
"""
import itertools
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Hashable,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np

from ..datasets.h36m_utils import load_h36m_cameras, parse_h36m_imgname
from ..datasets.pseudo_label_file import (
    LABEL_KEYS,
    image_key,
    open_npz,
    save_pseudo_labels,
)
from ..geometry import EpipolarOptions, make_pseudo_labels


@dataclass(frozen=True)
class CameraSet:
    """Synchronised frames of one static set of cameras.

    Args:
        name (str): The sequence (for messages and the summary).
        cameras (Sequence[str]): Camera names, (V,).
        intrinsics (np.ndarray): (V, 3, 3).
        distortion (np.ndarray): (V, 5) OpenCV order.
        rows (np.ndarray): (F, V) int, the prediction row of each view of
            each frame, -1 where a view lacks the frame.
    """
    name: str
    cameras: Sequence[str]
    intrinsics: np.ndarray
    distortion: np.ndarray
    rows: np.ndarray


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def load_predictions(path: str, img_root: Optional[str] = None) -> Dict:
    """Read 2D predictions (NPZ or DumpResults pickle).

    Args:
        path (str): The file.
        img_root (str, optional): Strip this from ``img_path`` (pickle).

    Returns:
        dict: ``imgname`` list of str (N,), ``keypoints`` (N, J, 3).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction file {path!r} does not exist')
    if path.endswith('.npz'):
        return _load_prediction_npz(path)
    return _load_dump_results(path, img_root)


def _load_prediction_npz(path: str) -> Dict:
    with open_npz(path, 'prediction file') as npz:
        for key in ('imgname', 'keypoints'):
            if key not in npz.files:
                raise KeyError(f'{path!r} lacks the key {key!r}')
        try:
            kp = npz['keypoints'].astype(np.float64)
            names = npz['imgname']
        except ValueError as e:
            raise ValueError(f'{path!r}: imgname and keypoints must be '
                             f'plain arrays, not objects ({e})') from e
    if names.dtype.kind not in 'US':
        raise ValueError(f"{path!r}: 'imgname' must hold strings, got dtype "
                         f'{names.dtype}')
    if kp.ndim != 3 or kp.shape[-1] != 3 or len(kp) != len(names):
        raise ValueError(f"{path!r}: 'keypoints' must be (N, J, 3) with "
                         f'N = len(imgname), got {kp.shape}')
    return dict(imgname=[str(n) for n in names], keypoints=kp)


def _load_dump_results(path: str, img_root: Optional[str]) -> Dict:
    from ..utils.safe_pickle import load_pickle
    results = load_pickle(path, what='prediction file')
    if not isinstance(results, (list, tuple)):
        raise ValueError(f'prediction file {path!r}: expected the list of '
                         f'DumpResults, got {type(results).__name__}')
    names, kps = [], []
    for i, res in enumerate(results):
        try:
            inst = res['pred_instances']
            xy = _to_numpy(inst['keypoints']).astype(np.float64)
            score = _to_numpy(inst['keypoint_scores']).astype(np.float64)
            img_path = res['img_path']
        except (KeyError, TypeError, IndexError) as e:
            raise KeyError(f'{path!r}, entry {i}: expected a DumpResults '
                           'dict with img_path and pred_instances.keypoints/'
                           f'keypoint_scores ({e!r})') from e
        if len(xy) == 0:
            continue
        best = int(np.argmax(score.mean(-1)))
        names.append(image_key(img_path, img_root))
        kps.append(np.concatenate([xy[best], score[best][:, None]], -1))
    if not kps:
        raise ValueError(f'{path!r} holds no predicted instances')
    return dict(imgname=names, keypoints=np.stack(kps))


def group_camera_sets(views: Iterable[Tuple[Hashable, Hashable, str, int]],
                      camera_param: Callable[[Hashable, str], Dict],
                      min_views: int = 2) -> Tuple[List[CameraSet], int]:
    """Group views into synchronised camera sets, one per sequence, keeping
    the frames seen by at least ``min_views`` views.

    Args:
        views (Iterable[tuple]): ``(sequence, frame, camera, row)`` per
            view; ``sequence`` is a tuple naming a static camera set.
        camera_param (Callable): ``(sequence, camera) -> dict`` with
            ``intrinsics`` (3, 3) and ``distortion`` (5,).
        min_views (int): Least views a kept frame has.

    Returns:
        tuple: The camera sets (sorted by sequence) and the number of
        frames skipped for having fewer views.
    """
    sequences = defaultdict(lambda: defaultdict(dict))
    for sequence, frame, camera, row in views:
        sequences[sequence][frame][camera] = row
    sets, skipped = [], 0
    for sequence, frames in sorted(sequences.items()):
        names = sorted({c for cams in frames.values() for c in cams})
        keep = sorted(fr for fr, cams in frames.items()
                      if len(cams) >= min_views)
        skipped += len(frames) - len(keep)
        if not keep or len(names) < 2:
            continue
        params = [camera_param(sequence, c) for c in names]
        sets.append(CameraSet(
            name='/'.join(str(k) for k in sequence), cameras=names,
            intrinsics=np.stack([p['intrinsics'] for p in params]),
            distortion=np.stack([p['distortion'] for p in params]),
            rows=np.array([[frames[fr].get(c, -1) for c in names]
                           for fr in keep])))
    return sets, skipped


def h36m_camera_sets(imgnames: Sequence[str], cameras: Dict,
                     min_views: int = 2,
                     camera_file: str = 'cameras') -> Tuple[List[CameraSet],
                                                             int]:
    """Camera sets of Human3.6M-named images, one per (subject, action,
    sub-action) (:func:`group_camera_sets`).

    Args:
        imgnames (Sequence[str]): (N,) names such as
            ``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001
            .jpg``.
        cameras (dict): Converted Human3.6M cameras keyed by
            ``(subject, camera)`` (:func:`load_h36m_cameras`).
        min_views (int): Least views a kept frame has.
        camera_file (str): Named in errors.

    Returns:
        tuple: The camera sets and the number of skipped frames.
    """
    def views():
        for row, name in enumerate(imgnames):
            p = parse_h36m_imgname(name)
            yield ((p.subject, p.action, p.subaction), p.frame_idx,
                   p.camera_id, row)

    def camera_param(sequence, camera):
        if (sequence[0], camera) not in cameras:
            raise KeyError(f'camera {(sequence[0], camera)} missing from '
                           f'{camera_file!r}')
        return cameras[(sequence[0], camera)]

    return group_camera_sets(views(), camera_param, min_views)


def build_pseudo_labels(keypoints: np.ndarray,
                        camera_sets: Sequence[CameraSet],
                        pooled: bool = True,
                        options: Optional[EpipolarOptions] = None,
                        reproj_thresh: float = 15.0,
                        min_valid_joints: int = 8,
                        progress: bool = True) -> Dict[str, Any]:
    """Pseudo-labels of every view of every camera set.

    Args:
        keypoints (np.ndarray): The predictions (N, J, 3).
        camera_sets (Sequence[CameraSet]): Rows into ``keypoints``.
        pooled (bool): One rig per camera set (static cameras), else one
            per frame (see :func:`epipolar_triangulate`).
        options (EpipolarOptions, optional): The engine's options.
        reproj_thresh (float): Pixels; joints reprojecting farther from
            their view's 2D are masked (:func:`pseudo_label_targets`).
        min_valid_joints (int): Visible joints a valid sample needs.
        progress (bool): Show a progress bar.

    Returns:
        dict: The label arrays of :data:`LABEL_KEYS` but ``imgname``, for
        all N rows; ``used`` (N,) bool, the rows some camera set labelled;
        ``rigs``, the recovered rig (numpy dict) of each camera set; and
        ``pairs``: for each camera pair, the fraction of frames where both
        views are valid.
    """
    options = options or EpipolarOptions()
    n, j = keypoints.shape[:2]
    out = dict(
        keypoints=np.zeros((n, j, 2), np.float32),
        keypoints_depth=np.zeros((n, j), np.float32),
        keypoints_visible=np.zeros((n, j), np.float32),
        reproj_error=np.full((n, j), -1.0, np.float32),
        valid=np.zeros(n, bool))
    used = np.zeros(n, bool)
    rigs, pair_stats = {}, defaultdict(list)
    bar = _progress_bar(len(camera_sets)) if progress else None
    for cam_set in camera_sets:
        present = cam_set.rows >= 0
        kp = np.where(present[..., None, None], keypoints[cam_set.rows],
                      np.array([np.nan, np.nan, 0.0]))
        labels = make_pseudo_labels(
            kp, cam_set.intrinsics, cam_set.distortion, pooled=pooled,
            reproj_thresh=reproj_thresh, min_valid_joints=min_valid_joints,
            options=options)
        rows = cam_set.rows[present]
        for key in out:
            out[key][rows] = labels[key][present]
        used[rows] = True
        rigs[cam_set.name] = labels['poses']
        for a, b in itertools.combinations(range(len(cam_set.cameras)), 2):
            both = present[:, a] & present[:, b]
            pair_stats[(cam_set.cameras[a], cam_set.cameras[b])].extend(
                labels['valid'][both, a] & labels['valid'][both, b])
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    out.update(used=used, rigs=rigs,
               pairs={f'{a}-{b}': float(np.mean(v))
                      for (a, b), v in sorted(pair_stats.items()) if len(v)})
    return out


def _progress_bar(total: int):
    from mmengine.utils import ProgressBar
    return ProgressBar(total)


def label_summary(labels: Dict[str, Any], num_frames: int,
                  skipped_frames: int) -> Dict[str, Any]:
    """Counts and reprojection percentiles of built labels."""
    used = labels['used']
    err = labels['reproj_error'][used]
    err = err[err >= 0]
    pct = np.percentile(err, [50, 90, 99]) if err.size else [np.nan] * 3
    return dict(
        frames=int(num_frames), skipped_frames=int(skipped_frames),
        views=int(used.sum()),
        valid_fraction=float(labels['valid'][used].mean())
        if used.any() else 0.0,
        reproj_p50=float(pct[0]), reproj_p90=float(pct[1]),
        reproj_p99=float(pct[2]), pairs=labels['pairs'])


def print_summary(summary: Dict[str, Any], min_views: int) -> None:
    print(f"frames {summary['frames']} (skipped, < {min_views} views: "
          f"{summary['skipped_frames']}), views {summary['views']}, valid "
          f"{100 * summary['valid_fraction']:.1f} %")
    print('reprojection error px: p50 {:.2f}, p90 {:.2f}, p99 {:.2f}'.format(
        summary['reproj_p50'], summary['reproj_p90'], summary['reproj_p99']))
    for pair, frac in summary['pairs'].items():
        print(f'  pair {pair}: both views valid {100 * frac:.1f} %')


def labelled_rows(labels: Dict[str, Any], imgnames: Sequence[str],
                  input_keypoints: np.ndarray) -> Dict[str, np.ndarray]:
    """The label-file arrays of the rows some camera set labelled, with the
    2D they were made from.

    Args:
        labels (dict): From :func:`build_pseudo_labels`.
        imgnames (Sequence[str]): (N,) image names.
        input_keypoints (np.ndarray): The input 2D (N, J, 3).

    Returns:
        dict: :data:`LABEL_KEYS` and ``input_keypoints``, used rows only.
    """
    used = labels['used']
    rows = {k: labels[k][used] for k in LABEL_KEYS if k != 'imgname'}
    rows['imgname'] = np.array(imgnames)[used]
    rows['input_keypoints'] = np.asarray(input_keypoints)[used]
    return rows


def check_output_path(out_file: str) -> None:
    """Fail before any work when the label file cannot be written."""
    if not str(out_file).endswith('.npz'):
        raise ValueError(f'pseudo-label file {out_file!r} must end in .npz')
    folder = osp.dirname(osp.abspath(out_file))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'output folder {folder!r} of {out_file!r} '
                                'does not exist')


def make_h36m_pseudo_labels(predictions: str,
                            cameras: str,
                            out_file: str,
                            mode: str = 'pooled',
                            views: int = 2,
                            reproj_thresh: float = 15.0,
                            min_valid_joints: int = 8,
                            img_root: Optional[str] = None,
                            options: Optional[EpipolarOptions] = None,
                            **engine_options: Any) -> Dict[str, Any]:
    """Predictions file + Human3.6M ``cameras.pkl`` -> label file.

    Args:
        predictions (str): DumpResults ``.pkl`` or ``.npz``.
        cameras (str): Human3.6M ``cameras.pkl``.
        out_file (str): The label ``.npz`` (its folder must exist).
        mode (str): ``'pooled'`` or ``'per-frame'``.
        views (int): Least views a frame needs (>= 2).
        reproj_thresh (float): See :func:`build_pseudo_labels`.
        min_valid_joints (int): See :func:`build_pseudo_labels`.
        img_root (str, optional): Strip this from ``img_path`` (pickle).
        options (EpipolarOptions, optional): The engine's options.
        **engine_options: Engine options by flat name
            (``threshold_px=2.0``), on top of ``options``.

    Returns:
        dict: The summary (frames, skipped frames, views, valid fraction,
        reprojection percentiles, per-pair validity, ``out``).
    """
    if mode not in ('pooled', 'per-frame'):
        raise ValueError(f"mode must be 'pooled' or 'per-frame', got "
                         f'{mode!r}')
    if views < 2:
        raise ValueError(f'views must be >= 2, got {views}')
    check_output_path(out_file)
    options = (options or EpipolarOptions()).replace(**engine_options)
    preds = load_predictions(predictions, img_root)
    camera_table = load_h36m_cameras(cameras)
    camera_sets, skipped = h36m_camera_sets(preds['imgname'], camera_table,
                                            views, cameras)
    if not camera_sets:
        raise ValueError(
            f'{predictions!r}: no frame is seen by at least {views} views '
            f'({len(preds["imgname"])} predictions, {skipped} frames)')
    labels = build_pseudo_labels(
        preds['keypoints'], camera_sets, pooled=mode == 'pooled',
        options=options, reproj_thresh=reproj_thresh,
        min_valid_joints=min_valid_joints)
    meta = dict(
        mode=mode, min_views=views, reproj_thresh=reproj_thresh,
        threshold_px=options.robust.threshold_px,
        min_valid_joints=min_valid_joints,
        num_joints=int(preds['keypoints'].shape[1]),
        joint_layout='as in the predictions (H36M-17 for H36M)',
        depth='f_mean * (Z - Z_root) / Z_root, root joint 0',
        engine=options.to_dict(),
        sources=dict(predictions=osp.abspath(predictions),
                     cameras=osp.abspath(cameras)))
    save_pseudo_labels(
        out_file,
        labelled_rows(labels, preds['imgname'], preds['keypoints']), meta)
    summary = label_summary(
        labels, sum(len(s.rows) for s in camera_sets), skipped)
    summary['out'] = out_file
    print_summary(summary, views)
    print(f'wrote {out_file}')
    return summary


def dataset_camera_sets(data_infos: Sequence[Dict],
                        min_views: int = 2) -> Tuple[List[CameraSet], int]:
    """Camera sets of a multi-view dataset, one per sequence (``subject``,
    ``action``, ``subaction``), from each view's ``camera_id``,
    ``frame_idx`` and ``camera_param`` (``docs/conventions.md``); rows
    index ``data_infos`` (:func:`group_camera_sets`).

    Args:
        data_infos (Sequence[dict]): ``dataset.get_data_info(i)`` for every
            view, in dataset order.
        min_views (int): Least views a kept frame has.

    Returns:
        tuple: The camera sets and the number of skipped frames.
    """
    params = {}

    def views():
        for row, info in enumerate(data_infos):
            sequence = (info['subject'], info['action'], info['subaction'])
            params[(sequence, info['camera_id'])] = info['camera_param']
            yield sequence, info['frame_idx'], info['camera_id'], row

    grouped = list(views())
    return group_camera_sets(grouped, lambda s, c: params[(s, c)],
                             min_views)
