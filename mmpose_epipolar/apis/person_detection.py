# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Person boxes of every view of a recording: from any MMDetection detector
(RTMDet by default, as MMPose's demos use) or from given 2D keypoints.

Detections are cached per image in one NPZ (:class:`ImageResultCache`),
keyed by the image's name and file signature and by a fingerprint of the
detector (its config and checkpoint) and the options: a second call with
the same detector and images loads no detector at all, new images alone
are detected, and another detector or option starts afresh.
"""
import copy
import json
import os
import os.path as osp
import warnings
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
from mmengine.config import Config

from ..datasets.pseudo_label_file import open_npz
from ..datasets.recording import RecordingIndex, image_file_ok
from ..utils.atomic_file import atomic_open
from ..utils.hashing import file_sha256, text_sha256

PathLike = Union[str, os.PathLike]
ConfigLike = Union[str, os.PathLike, Config]

#: Enlargement of the joints' extent into a person box. The joints lie
#: inside the person (the top of the head, the hands and the feet reach
#: beyond them), so their extent is enlarged around its centre by 1.25 per
#: side length: MMPose's bounding-box padding convention
#: (``GetBBoxCenterScale(padding=1.25)``, which the top-down pipeline
#: applies once more before cropping, as to a detector's box).
KEYPOINT_BOX_ENLARGE = 1.25


def _default_detector() -> Dict[str, Any]:
    """MMPose's default human detector of its inferencers and demos."""
    from mmpose.apis.inferencers.utils.default_det_models import (
        default_det_models,
    )
    human = default_det_models['human']
    return dict(config=human['model'], checkpoint=human['weights'])


#: The detector used when none is given: RTMDet-m trained for people on
#: COCO + Objects365 (``demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-
#: person.py`` inside MMPose and its checkpoint URL, MMPose's own default
#: for human pose). The checkpoint is downloaded by MMEngine on first use.
DEFAULT_DETECTOR: Dict[str, Any] = _default_detector()

_CACHE_VERSION = 1


# Boxes from keypoints -------------------------------------------------------


def boxes_from_keypoints(keypoints: np.ndarray,
                         enlarge: float = KEYPOINT_BOX_ENLARGE,
                         min_confidence: float = 0.0,
                         min_joints: int = 2) -> np.ndarray:
    """Person boxes around given 2D keypoints.

    Args:
        keypoints (np.ndarray): (..., J, 3) pixel x, y, confidence.
        enlarge (float): Factor on the width and height of the joints'
            extent, around its centre (:data:`KEYPOINT_BOX_ENLARGE`).
        min_confidence (float): A joint is used when its confidence is
            above this (and its coordinates are finite).
        min_joints (int): Fewest used joints a box needs.

    Returns:
        np.ndarray: (..., 5) x1, y1, x2, y2, score (the mean confidence of
        the used joints); NaN box with score 0 for a person with fewer
        than ``min_joints`` used joints or whose joints all coincide.
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim < 2 or kp.shape[-1] != 3:
        raise ValueError('keypoints must have shape (..., J, 3) (x, y, '
                         f'confidence), got {kp.shape}')
    if not enlarge > 0:
        raise ValueError(f'enlarge must be positive, got {enlarge}')
    used = np.isfinite(kp).all(-1) & (np.nan_to_num(kp[..., 2], nan=-1.0)
                                      > min_confidence)
    count = used.sum(-1)
    xy = np.where(used[..., None], kp[..., :2], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN slices
        lo, hi = np.nanmin(xy, -2), np.nanmax(xy, -2)
        score = np.where(used, kp[..., 2], 0.0).sum(-1) / np.maximum(count, 1)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * enlarge
    boxes = np.concatenate([centre - half, centre + half], -1)
    ok = (count >= min_joints) & (half > 0).any(-1)
    boxes = np.where(ok[..., None], boxes, np.nan)
    return np.concatenate([boxes, np.where(ok, score, 0.0)[..., None]], -1)


# Configs and fingerprints ---------------------------------------------------


def load_model_config(config: ConfigLike, what: str = 'config') -> Config:
    """A model config from a file, ``'mmdet::...'`` / ``'mmpose::...'``
    (a config inside an installed OpenMMLab package) or a Config (copied).

    Raises:
        FileNotFoundError: A file that does not exist (named with ``what``).
    """
    if isinstance(config, Config):
        return copy.deepcopy(config)
    config = str(config)
    if '::' in config:
        from mmengine.hub import get_config
        return get_config(config)
    if not osp.isfile(config):
        raise FileNotFoundError(f'{what} {config} does not exist')
    return Config.fromfile(config)


def config_sha256(config: Config) -> str:
    """SHA-256 of a config's content (its bases merged in)."""
    return text_sha256(json.dumps(config.to_dict(), sort_keys=True,
                                   default=repr))


def checkpoint_fingerprint(checkpoint: Optional[str]) -> Optional[str]:
    """What identifies a checkpoint: the SHA-256 of a local file, the URL
    itself (OpenMMLab's URLs name their content's hash), None for random
    weights.

    Raises:
        FileNotFoundError: A local file that does not exist.
    """
    if checkpoint is None:
        return None
    checkpoint = str(checkpoint)
    if '://' in checkpoint:
        return checkpoint
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file {checkpoint} does not '
                                'exist')
    return file_sha256(checkpoint)


def image_signature(path: str) -> Optional[Tuple[int, int]]:
    """``(size, mtime_ns)`` of an image file (a re-decoded or replaced
    frame changes it), or None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return int(stat.st_size), int(stat.st_mtime_ns)


# The per-image cache --------------------------------------------------------


class ImageResultCache:
    """Results of one model per image, kept in one NPZ file.

    An entry is found by the image's name, its file signature
    (:func:`image_signature`) and a ``key`` (what else the result depends
    on, e.g. the boxes a pose model was run on). The file records the
    ``fingerprint`` of the model and options: a file made with another one
    is ignored (:attr:`invalidated`) and replaced on :meth:`save`. Results
    are (P_i, ...) arrays with a common trailing shape, stored padded with
    their counts. Writes are atomic: the file is written next to its name
    and renamed.

    Args:
        path (str, optional): The NPZ file; None keeps nothing.
        fingerprint (dict): JSON-serialisable identity of the model.
        what (str): What the file is, for messages.
    """

    def __init__(self, path: Optional[PathLike], fingerprint: Dict,
                 what: str = 'result cache') -> None:
        self.path = None if path is None else str(path)
        self.fingerprint = json.loads(json.dumps(fingerprint,
                                                 sort_keys=True))
        self.what = what
        self.info: Dict[str, Any] = {}
        self.invalidated = False
        self._entries: Dict[str, Tuple[Tuple[int, int], str, np.ndarray,
                                       bool]] = {}
        self._dirty = False
        if self.path is not None and osp.isfile(self.path):
            self._load()

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self) -> None:
        try:
            with open_npz(self.path, self.what) as npz:
                meta = json.loads(str(npz['meta']))
                names = npz['names']
                signatures = npz['signatures']
                keys = npz['keys']
                counts = npz['counts']
                values = npz['values']
                unreadable = npz['unreadable']
        except (KeyError, ValueError) as e:
            warnings.warn(f'{self.what} {self.path} cannot be read ({e}); '
                          'it is made again')
            return
        if meta.get('version') != _CACHE_VERSION or \
                meta.get('fingerprint') != self.fingerprint:
            self.invalidated = True
            return
        self.info = dict(meta.get('info') or {})
        for i, name in enumerate(names):
            self._entries[str(name)] = (
                (int(signatures[i, 0]), int(signatures[i, 1])),
                str(keys[i]), values[i, :int(counts[i])],
                bool(unreadable[i]))

    def get(self, name: str, signature: Tuple[int, int], key: str = ''
            ) -> Optional[Tuple[np.ndarray, bool]]:
        """``(values, unreadable)`` of an image, or None when not cached
        for this file signature and key."""
        entry = self._entries.get(name)
        if entry is None or entry[0] != tuple(signature) or entry[1] != key:
            return None
        return entry[2], entry[3]

    def put(self, name: str, signature: Tuple[int, int], key: str,
            values: np.ndarray, unreadable: bool = False) -> None:
        """Record the result (P, ...) of an image."""
        self._entries[name] = (tuple(signature), key,
                               np.asarray(values, np.float64),
                               bool(unreadable))
        self._dirty = True

    def save(self, force: bool = False) -> None:
        """Write the file atomically (when something changed)."""
        if self.path is None or not (self._dirty or force):
            return
        names = sorted(self._entries)
        entries = [self._entries[n] for n in names]
        tails = {e[2].shape[1:] for e in entries if e[2].size}
        tail = tails.pop() if tails else ()
        if tails:
            raise ValueError(f'{self.what} {self.path}: results of different '
                             'shapes cannot share one file')
        counts = np.array([len(e[2]) if e[2].size else 0 for e in entries],
                          np.int64)
        values = np.full((len(names), max(1, int(counts.max(initial=0))))
                         + tail, np.nan)
        for i, entry in enumerate(entries):
            if counts[i]:
                values[i, :counts[i]] = entry[2]
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        with atomic_open(self.path) as f:
            np.savez(
                f, names=np.array(names, dtype=str),
                signatures=np.array([e[0] for e in entries],
                                    np.int64).reshape(-1, 2),
                keys=np.array([e[1] for e in entries], dtype=str),
                counts=counts, values=values,
                unreadable=np.array([e[3] for e in entries], bool),
                meta=json.dumps(dict(version=_CACHE_VERSION,
                                     fingerprint=self.fingerprint,
                                     info=self.info)))
        self._dirty = False


def image_views(index: RecordingIndex
                ) -> List[Tuple[int, int, str, str,
                                Optional[Tuple[int, int]]]]:
    """Every present view of a recording as ``(f, v, name, path,
    signature)``; the signature is None for a file that has gone."""
    out = []
    for f, v in zip(*np.nonzero(index.present)):
        path = index.image_path(int(f), int(v))
        out.append((int(f), int(v), str(index.imgnames[f, v]), path,
                    image_signature(path)))
    return out


def read_image(path: str) -> Optional[np.ndarray]:
    """A BGR image (H, W, 3), or None when the file is missing, empty,
    truncated or cannot be decoded."""
    import mmcv
    if not image_file_ok(path):
        return None
    try:
        return mmcv.imread(path)
    except Exception:  # decoders raise various errors on bad files
        return None


def split_cached(items: Sequence[Tuple], cache: ImageResultCache,
                 per_view: Dict[Tuple[int, int], np.ndarray],
                 unreadable: List[str]) -> List[Tuple]:
    """Take the cached results of ``items`` (``(f, v, name, path,
    signature, key, extra)``) into ``per_view`` (and the names of cached
    unreadable images into ``unreadable``); return the items still to
    run."""
    todo = []
    for item in items:
        f, v, name, _, signature, key, _ = item
        hit = None if signature is None else cache.get(name, signature, key)
        if hit is None:
            todo.append(item)
            continue
        per_view[f, v] = hit[0]
        if hit[1]:
            unreadable.append(name)
    return todo


def run_on_images(todo: Sequence[Tuple],
                  run: Callable[[np.ndarray, Any], np.ndarray],
                  empty: np.ndarray, cache: ImageResultCache,
                  per_view: Dict[Tuple[int, int], np.ndarray],
                  unreadable: List[str], progress: bool,
                  save_every: int = 256) -> None:
    """``run(image, extra)`` on each item of ``todo`` (as
    :func:`split_cached` returns them) into ``per_view`` and the cache; an
    image that cannot be read gets ``empty`` and its name goes to
    ``unreadable``. The cache is saved every ``save_every`` images."""
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo))
    for i, (f, v, name, path, signature, key, extra) in enumerate(todo):
        image = None if signature is None else read_image(path)
        if image is None:
            found = empty
            unreadable.append(name)
        else:
            found = run(image, extra)
        per_view[f, v] = found
        if signature is not None:
            cache.put(name, signature, key, found, image is None)
        if (i + 1) % save_every == 0:
            cache.save()
        if bar is not None:
            bar.update()
    if bar is not None:
        print()


def warn_unreadable(names: Sequence[str], what: str) -> None:
    if names:
        warnings.warn(f'{what}: {len(names)} image(s) could not be read and '
                      f'have no result (e.g. {list(names)[:3]})')


# Detection ------------------------------------------------------------------


def _lower_score_thresholds(test_cfg: Any, score_thr: float) -> None:
    """Lower every ``score_thr`` of a detector's ``test_cfg`` (nested, e.g.
    ``rcnn.score_thr``) to ``score_thr`` where it is higher."""
    if not isinstance(test_cfg, dict):
        return
    for key, value in test_cfg.items():
        if key == 'score_thr' and isinstance(value, (int, float)) and \
                value > score_thr:
            test_cfg[key] = score_thr
        else:
            _lower_score_thresholds(value, score_thr)


def _build_detector(config: Config, checkpoint: Optional[str], device: str,
                    score_thr: float):
    """``init_detector`` with MMPose's pipeline adaptation (call inside the
    mmdet registry scope)."""
    import torch
    from mmdet.apis import init_detector
    from mmpose.utils import adapt_mmdet_pipeline
    config = adapt_mmdet_pipeline(config)
    _lower_score_thresholds(config.model.get('test_cfg'), score_thr)
    if checkpoint is None:
        warnings.warn('detect_people: no detector checkpoint, RANDOM '
                      'weights (mechanics only)')
        torch.manual_seed(0)
    return init_detector(config, checkpoint, device=device)


def _person_class(detector, person_class: Optional[int],
                  config_name: str) -> int:
    if person_class is not None:
        return int(person_class)
    classes = [str(c).lower() for c in
               (getattr(detector, 'dataset_meta', None) or {}).get(
                   'classes', ())]
    if 'person' not in classes:
        raise ValueError(f'detector {config_name}: its classes '
                         f'{classes[:10]} have no "person"; give '
                         'person_class')
    return classes.index('person')


def _person_boxes(detector, image: np.ndarray, label: int, score_thr: float,
                  nms_thr: float, max_people: int) -> np.ndarray:
    """(N, 5) person boxes of one image, by decreasing score."""
    from mmdet.apis import inference_detector
    from mmpose.evaluation.functional import nms
    pred = inference_detector(detector, image).pred_instances.cpu().numpy()
    boxes = np.concatenate([pred.bboxes, pred.scores[:, None]],
                           1).astype(np.float64)
    boxes = boxes[(pred.labels == label) & (pred.scores >= score_thr)]
    if len(boxes):
        boxes = boxes[nms(boxes, nms_thr)]
        boxes = boxes[np.argsort(-boxes[:, 4], kind='stable')[:max_people]]
    return boxes.reshape(-1, 5)


def stack_people(per_view: Dict[Tuple[int, int], np.ndarray],
                 shape: Tuple[int, int], tail: Tuple[int, ...],
                 num_people: Optional[int] = None) -> np.ndarray:
    """(F, V, P, *tail) of per-view (P_i, *tail) results, NaN-padded (the
    last entry of ``tail`` is a score / confidence: 0 in padding); P is the
    most people of a view (at least 1) unless given."""
    most = max([1] + [len(x) for x in per_view.values()])
    out = np.full(shape + (num_people or most, ) + tail, np.nan)
    out[..., -1] = 0.0
    for (f, v), values in per_view.items():
        if len(values):
            out[f, v, :len(values)] = values[:out.shape[2]]
    return out


def detect_people(index: RecordingIndex,
                  det_config: Optional[ConfigLike] = None,
                  det_checkpoint: Optional[str] = None,
                  cache_file: Optional[PathLike] = None,
                  *,
                  device: str = 'cpu',
                  score_thr: float = 0.3,
                  max_people: int = 5,
                  nms_thr: float = 0.3,
                  person_class: Optional[int] = None,
                  progress: bool = True,
                  return_summary: bool = False
                  ) -> Union[np.ndarray, Tuple[np.ndarray, Dict]]:
    """Person boxes in every view of a recording, by an mmdet detector.

    The detector is built (``mmdet.apis.init_detector`` with MMPose's
    ``adapt_mmdet_pipeline``, in mmdet's registry scope; the caller's scope
    is restored afterwards) only when some image is not in the cache. Its
    ``test_cfg`` score thresholds are lowered to ``score_thr`` where
    higher; boxes of the person class scoring at least ``score_thr`` are
    kept, NMS-ed (MMPose's ``nms``, overlap ``nms_thr``) and the
    ``max_people`` best kept, as MMPose's demos do.

    Args:
        index (RecordingIndex): The recording's frames.
        det_config (str | Config, optional): An mmdet config file,
            ``'mmdet::...'`` or a Config; None for
            :data:`DEFAULT_DETECTOR` (with its checkpoint when
            ``det_checkpoint`` is None too).
        det_checkpoint (str, optional): A local file or a URL (downloaded
            by MMEngine); None with a config: random weights (warned).
        cache_file (str, optional): The detections' cache (NPZ); None
            keeps none.
        device (str): Where the detector runs.
        score_thr (float): Least box score kept.
        max_people (int): Most boxes kept per view.
        nms_thr (float): Overlap above which the weaker box is dropped.
        person_class (int, optional): The detector's person label; None
            finds ``'person'`` in its ``dataset_meta['classes']``.
        progress (bool): A progress bar over the images detected now.
        return_summary (bool): Also return the summary.

    Returns:
        np.ndarray | tuple: Boxes (F, V, P, 5) x1, y1, x2, y2, score by
        decreasing score, NaN with score 0 as padding and where a view is
        missing or unreadable; P is the most people kept in a view (at
        least 1). With ``return_summary`` also a dict: ``images`` (present
        views), ``detected`` (now), ``cached`` (reused), ``unreadable``
        (count) and ``unreadable_images`` (names), ``no_person`` (readable
        views without a box), ``invalidated`` (a cache of another detector
        or options was replaced).
    """
    if det_config is None:
        det_config = DEFAULT_DETECTOR['config']
        if det_checkpoint is None:
            det_checkpoint = DEFAULT_DETECTOR['checkpoint']
    if max_people < 1:
        raise ValueError(f'max_people must be >= 1, got {max_people}')
    config_name = getattr(det_config, 'filename', None) or 'Config' \
        if isinstance(det_config, Config) else str(det_config)
    config = load_model_config(det_config, 'detector config')
    fingerprint = dict(
        kind='person boxes', config=config_sha256(config),
        checkpoint=checkpoint_fingerprint(det_checkpoint),
        score_thr=float(score_thr), max_people=int(max_people),
        nms_thr=float(nms_thr), person_class=person_class)
    cache = ImageResultCache(cache_file, fingerprint, 'person box cache')
    views = image_views(index)
    per_view: Dict[Tuple[int, int], np.ndarray] = {}
    unreadable: List[str] = []
    todo = split_cached([view + ('', None) for view in views], cache,
                        per_view, unreadable)
    if todo:
        _detect_images(todo, cache, per_view, unreadable, config,
                       config_name, det_checkpoint, device, score_thr,
                       max_people, nms_thr, person_class, progress)
    cache.info = dict(unreadable=len(unreadable))
    cache.save()
    warn_unreadable(unreadable, f'detect_people ({index.root})')
    boxes = stack_people(per_view, index.present.shape, (5, ))
    if not return_summary:
        return boxes
    readable = index.present.copy()
    for name in unreadable:
        readable[index.imgnames == name] = False
    summary = dict(
        images=len(views), detected=len(todo),
        cached=len(views) - len(todo), unreadable=len(unreadable),
        unreadable_images=sorted(unreadable),
        no_person=int((readable & (boxes[..., 0, 4] <= 0)).sum()),
        invalidated=cache.invalidated)
    return boxes, summary


def _detect_images(todo, cache: ImageResultCache, per_view, unreadable,
                   config: Config, config_name: str,
                   checkpoint: Optional[str], device: str, score_thr: float,
                   max_people: int, nms_thr: float,
                   person_class: Optional[int], progress: bool,
                   save_every: int = 256) -> None:
    """Detect the images ``todo`` into ``per_view`` and the cache."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(
            config.get('default_scope', 'mmdet')):
        detector = _build_detector(config, checkpoint, device, score_thr)
        label = _person_class(detector, person_class, config_name)
        run_on_images(
            todo, lambda image, _: _person_boxes(detector, image, label,
                                                 score_thr, nms_thr,
                                                 max_people),
            np.zeros((0, 5)), cache, per_view, unreadable, progress,
            save_every)
