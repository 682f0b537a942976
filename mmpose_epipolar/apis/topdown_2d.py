# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Every person's 2D in every view of a recording, as a
:class:`KeypointSequence` (F, V, P, J, 3) on the recording's rows, from
any 2D teacher:

- :func:`predict_topdown_2d`: any MMPose top-down model (RTMPose, ViTPose,
  HRNet, or our own stage-1 network) run on the person boxes, cached per
  image like the boxes (:class:`~.person_detection.ImageResultCache`);
- :func:`keypoints_for_recording`: precomputed 2D (our NPZ, OpenPose-style
  JSON, see :mod:`~mmpose_epipolar.datasets.keypoint_files`) aligned to
  the recording by camera and each camera's own frame number;
- :func:`load_dump_results_2d`: MMPose's ``DumpResults`` pickle, matched
  to the recording's images by path suffix.
"""
import hashlib
import os
import warnings
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ..datasets.joint_layouts import KEYPOINT_LAYOUT_SIZES, layout_of_metainfo
from ..datasets.keypoint_files import KeypointFileError, KeypointSequence
from ..datasets.pseudo_label_file import ImageNameIndex
from ..datasets.recording import RecordingIndex
from .person_detection import (
    ImageResultCache,
    checkpoint_fingerprint,
    config_sha256,
    image_views,
    load_model_config,
    run_on_images,
    split_cached,
    stack_people,
    warn_unreadable,
)

PathLike = Union[str, os.PathLike]
ConfigLike = Union[str, os.PathLike, Config]


def _used_boxes(boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The people of one view with a box: their indices and (n, 4) xyxy."""
    ok = np.isfinite(boxes[:, :4]).all(-1) & (np.nan_to_num(boxes[:, 4]) > 0)
    return np.flatnonzero(ok), boxes[ok, :4]


def _boxes_key(people: np.ndarray, boxes: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(people, np.int64).tobytes())
    digest.update(np.ascontiguousarray(boxes, np.float64).tobytes())
    return digest.hexdigest()


def _instances(samples) -> np.ndarray:
    """(n, J, 3) x, y, score of one sample per box."""
    out = []
    for sample in samples:
        pred = sample.pred_instances
        xy = np.asarray(pred.keypoints, np.float64)[0]
        score = np.asarray(pred.keypoint_scores, np.float64)[0]
        out.append(np.concatenate([xy, score[:, None]], -1))
    return np.stack(out)


def _build_pose_model(config: Config, checkpoint: Optional[str],
                      device: str):
    """Our offline ``init_model`` (call inside the model's scope)."""
    from .inference import init_model
    if checkpoint is None:
        import torch
        warnings.warn('predict_topdown_2d: no pose checkpoint, RANDOM '
                      'weights (mechanics only)')
        torch.manual_seed(0)
    return init_model(config, checkpoint, device=device)


def _predict(model, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, J, 3) x, y, score of the people in ``boxes`` (n, 4) xyxy."""
    from mmpose.apis import inference_topdown
    return _instances(inference_topdown(model, image, boxes,
                                        bbox_format='xyxy'))


def predict_topdown_2d(index: RecordingIndex,
                       boxes: np.ndarray,
                       pose_config: ConfigLike,
                       pose_checkpoint: Optional[str],
                       cache_file: Optional[PathLike] = None,
                       *,
                       device: str = 'cpu',
                       layout: Optional[str] = None,
                       progress: bool = True,
                       return_summary: bool = False
                       ) -> Union[KeypointSequence,
                                  Tuple[KeypointSequence, Dict]]:
    """Run a top-down 2D model on the person boxes of every view.

    The model (:func:`~.inference.init_model`, offline, over
    ``mmpose.apis.init_model``) runs with ``mmpose.apis.inference_topdown``
    on each image's boxes, and only where an image is not cached for these
    boxes: the cache is keyed by the image's name and file signature and
    the boxes used, under a fingerprint of the model (config content and
    checkpoint) and the layout; when every image is cached the model is not
    built at all.

    Args:
        index (RecordingIndex): The recording's frames.
        boxes (np.ndarray): (F, V, P, 5) x1, y1, x2, y2, score (e.g. of
            :func:`~.person_detection.detect_people`); a person with score
            0 or a NaN box is skipped.
        pose_config (str | Config): A config file, ``'mmpose::...'`` or a
            Config.
        pose_checkpoint (str, optional): A local checkpoint (or a URL,
            downloaded by MMEngine); None: random weights (warned).
        cache_file (str, optional): The 2D's cache (NPZ); None keeps none.
        device (str): Where the model runs.
        layout (str, optional): The model's joint layout; None infers it
            from its dataset metainfo (:func:`layout_of_metainfo`; None when
            unknown).
        progress (bool): A progress bar over the images predicted now.
        return_summary (bool): Also return the summary.

    Returns:
        KeypointSequence | tuple: (F, V, P, J, 3) on the recording's rows
        (``cameras``, ``frames`` of ``index``), person ``p`` the box ``p``;
        NaN with confidence 0 for skipped people, missing and unreadable
        views. With ``return_summary`` also a dict: ``images`` (views
        with a box), ``predicted`` (now), ``cached``, ``unreadable`` and
        ``unreadable_images``, ``invalidated``.
    """
    boxes = np.asarray(boxes, np.float64)
    expected = index.present.shape
    if boxes.ndim != 4 or boxes.shape[:2] != expected or \
            boxes.shape[-1] != 5:
        raise ValueError(f'boxes must have shape ({expected[0]}, '
                         f'{expected[1]}, P, 5) for this recording, got '
                         f'{boxes.shape}')
    if layout is not None and layout not in KEYPOINT_LAYOUT_SIZES:
        raise ValueError(f'unknown keypoint layout {layout!r}; known: '
                         f'{sorted(KEYPOINT_LAYOUT_SIZES)}')
    config = load_model_config(pose_config, 'pose config')
    fingerprint = dict(kind='top-down 2d', config=config_sha256(config),
                       checkpoint=checkpoint_fingerprint(pose_checkpoint),
                       layout=layout)
    cache = ImageResultCache(cache_file, fingerprint, '2D keypoint cache')
    per_view: Dict[Tuple[int, int], np.ndarray] = {}
    people: Dict[Tuple[int, int], np.ndarray] = {}
    unreadable: List[str] = []
    items = []
    for f, v, name, path, signature in image_views(index):
        used, xyxy = _used_boxes(boxes[f, v])
        if len(used):
            people[f, v] = used
            items.append((f, v, name, path, signature,
                          _boxes_key(used, xyxy), xyxy))
    views = len(items)
    todo = split_cached(items, cache, per_view, unreadable)
    model = None
    with DefaultScope.overwrite_default_scope(
            config.get('default_scope', 'mmpose')):
        if todo or 'num_joints' not in cache.info:
            model = _build_pose_model(config, pose_checkpoint, device)
            meta = model.dataset_meta or {}
            num_joints = int(meta.get('num_keypoints') or 0)
            cache.info = dict(num_joints=num_joints, layout=layout or
                              layout_of_metainfo(meta, num_joints))
        if todo:
            run_on_images(todo, lambda image, xyxy: _predict(model, image,
                                                             xyxy),
                          np.zeros((0, )), cache, per_view, unreadable,
                          progress)
    cache.info['unreadable'] = len(unreadable)
    cache.save(force=model is not None)
    warn_unreadable(unreadable, f'predict_topdown_2d ({index.root})')
    num_joints = int(cache.info['num_joints'])
    keypoints = stack_people(
        {fv: _scatter(people[fv], kp, boxes.shape[2], num_joints)
         for fv, kp in per_view.items()}, expected, (num_joints, 3),
        num_people=boxes.shape[2])
    seq = KeypointSequence(tuple(index.cameras), np.asarray(index.frames),
                           keypoints, cache.info.get('layout'),
                           str(pose_config))
    if not return_summary:
        return seq
    summary = dict(images=views, predicted=len(todo),
                   cached=views - len(todo), unreadable=len(unreadable),
                   unreadable_images=sorted(unreadable),
                   invalidated=cache.invalidated)
    return seq, summary


def _scatter(people: np.ndarray, keypoints: np.ndarray, num_people: int,
             num_joints: int) -> np.ndarray:
    """(P, J, 3) with each predicted person at its box's index."""
    out = np.full((num_people, num_joints, 3), np.nan)
    out[..., 2] = 0.0
    if len(keypoints):
        out[people] = keypoints
    return out


# Precomputed 2D -----------------------------------------------------------


def keypoints_for_recording(seq: KeypointSequence,
                            index: RecordingIndex,
                            *,
                            return_summary: bool = False
                            ) -> Union[KeypointSequence,
                                       Tuple[KeypointSequence, Dict]]:
    """Precomputed 2D on the rows of a recording.

    The keypoints' frame numbers are each camera's own (row ``n`` of the
    shared NPZ is frame ``n`` of every video; an OpenPose file's number is
    its camera's frame): view ``v`` of recording row ``f`` takes the
    keypoints of camera ``index.cameras[v]`` at frame
    ``index.source_frames[f, v]``.

    Args:
        seq (KeypointSequence): The keypoints (e.g. of
            :func:`~mmpose_epipolar.datasets.keypoint_files.load_keypoints`).
        index (RecordingIndex): The recording.
        return_summary (bool): Also return the summary.

    Returns:
        KeypointSequence | tuple: (F, V, P, J, 3) with the recording's
        ``cameras`` and ``frames``; NaN with confidence 0 where the view is
        missing or the keypoints lack the frame. With ``return_summary``
        also a dict: ``missing`` (per camera, the recording's views whose
        frame the keypoints lack) and ``missing_total``.

    Raises:
        ValueError: A camera of the recording the keypoints lack (naming
            the keypoint source and the camera).
    """
    lacking = [c for c in index.cameras if c not in seq.cameras]
    if lacking:
        raise KeypointFileError(seq.source, f'keypoints {seq.source or ""}: '
                                f'no keypoints for camera(s) {lacking} of '
                                f'the recording {index.root} (the keypoints '
                                f'have {list(seq.cameras)})')
    mine = seq.select(cameras=index.cameras)
    rows = {int(n): i for i, n in enumerate(mine.frames)}
    out = np.full(index.present.shape + mine.keypoints.shape[2:], np.nan)
    out[..., 2] = 0.0
    missing = dict.fromkeys(index.cameras, 0)
    for (f, v), n in np.ndenumerate(index.source_frames):
        if n < 0:
            continue
        row = rows.get(int(n))
        if row is None:
            missing[index.cameras[v]] += 1
        else:
            out[f, v] = mine.keypoints[row, v]
    total = sum(missing.values())
    if total:
        warnings.warn(f'keypoints {seq.source}: {total} view(s) of the '
                      f'recording have no keypoints for their frame '
                      f'({missing}); they are missing')
    aligned = KeypointSequence(tuple(index.cameras),
                               np.asarray(index.frames), out, seq.layout,
                               seq.source)
    if not return_summary:
        return aligned
    return aligned, dict(missing=missing, missing_total=total)


def _dump_instances(entry, path: str, i: int) -> Tuple[str, np.ndarray]:
    """``img_path`` and (N, J, 3) of one DumpResults entry."""
    from .pseudo_labels import _to_numpy
    try:
        inst = entry['pred_instances']
        xy = _to_numpy(inst['keypoints']).astype(np.float64)
        score = _to_numpy(inst['keypoint_scores']).astype(np.float64)
        img_path = str(entry['img_path'])
    except (KeyError, TypeError, IndexError) as e:
        raise KeypointFileError(path, f'prediction file {path}, entry {i}: '
                                'expected a DumpResults dict with img_path '
                                'and pred_instances.keypoints/'
                                f'keypoint_scores ({e!r})') from e
    if xy.ndim == 2:
        xy, score = xy[None], score.reshape(1, -1)
    if xy.ndim != 3 or xy.shape[-1] != 2 or score.shape != xy.shape[:2]:
        raise KeypointFileError(path, f'prediction file {path}, entry {i}: '
                                'pred_instances.keypoints must be (N, J, 2) '
                                'and keypoint_scores (N, J), got '
                                f'{xy.shape} and {score.shape}')
    return img_path, np.concatenate([xy, score[..., None]], -1)


def load_dump_results_2d(path: PathLike,
                         index: RecordingIndex,
                         layout: Optional[str] = None,
                         *,
                         return_summary: bool = False
                         ) -> Union[KeypointSequence,
                                    Tuple[KeypointSequence, Dict]]:
    """MMPose ``DumpResults`` predictions on the rows of a recording.

    The pickle is read without running code
    (:func:`~mmpose_epipolar.utils.safe_pickle.load_pickle`). Each entry's
    ``img_path`` is matched to the recording's ``<camera>/<file>`` names by
    the longest path suffix
    (:class:`~mmpose_epipolar.datasets.pseudo_label_file.ImageNameIndex`);
    every instance is kept as a person (top-down dumps hold one entry per
    box, so the entries of one image are gathered).

    Args:
        path (str): The ``.pkl`` file.
        index (RecordingIndex): The recording.
        layout (str, optional): The predictions' joint layout (checked
            against J).
        return_summary (bool): Also return the summary.

    Returns:
        KeypointSequence | tuple: (F, V, P, J, 3), P the most instances of
        one image; NaN with confidence 0 elsewhere. With
        ``return_summary`` also a dict: ``entries``, ``matched`` (views
        with predictions), ``unmatched`` (entries of no recording image).

    Raises:
        KeypointFileError: A malformed file or entry, no entry matching the
            recording, or J not that of ``layout`` (naming the file).
    """
    from ..utils.safe_pickle import load_pickle
    source = str(path)
    results = load_pickle(source, what='prediction file')
    if not isinstance(results, (list, tuple)):
        raise KeypointFileError(source, f'prediction file {source}: '
                                'expected the list of DumpResults, got '
                                f'{type(results).__name__}')
    present = np.argwhere(index.present)
    names = ImageNameIndex([index.imgnames[f, v] for f, v in present])
    found: Dict[Tuple[int, int], List[np.ndarray]] = {}
    unmatched, num_joints = 0, None
    for i, entry in enumerate(results):
        img_path, people = _dump_instances(entry, source, i)
        if num_joints is None:
            num_joints = people.shape[1]
        elif people.shape[1] != num_joints:
            raise KeypointFileError(source, f'prediction file {source}, '
                                    f'entry {i}: {people.shape[1]} joints, '
                                    f'earlier entries have {num_joints}')
        row = names.find(img_path)
        if row is None:
            unmatched += 1
            continue
        found.setdefault(tuple(present[row]), []).append(people)
    if not found:
        raise KeypointFileError(source, f'prediction file {source}: none of '
                                f'its {len(results)} entries is an image of '
                                f'the recording {index.root} (img_path must '
                                'end in <camera>/<file>)')
    if layout is not None:
        if layout not in KEYPOINT_LAYOUT_SIZES:
            raise ValueError(f'unknown keypoint layout {layout!r}; known: '
                             f'{sorted(KEYPOINT_LAYOUT_SIZES)}')
        if KEYPOINT_LAYOUT_SIZES[layout] != num_joints:
            raise KeypointFileError(source, f'prediction file {source}: '
                                    f'{num_joints} joints, layout {layout!r} '
                                    f'has {KEYPOINT_LAYOUT_SIZES[layout]}')
    per_view = {fv: _present_only(np.concatenate(p)) for fv, p in
                found.items()}
    keypoints = stack_people(per_view, index.present.shape, (num_joints, 3))
    seq = KeypointSequence(tuple(index.cameras), np.asarray(index.frames),
                           keypoints, layout, source)
    if unmatched:
        warnings.warn(f'prediction file {source}: {unmatched} of '
                      f'{len(results)} entries match no image of the '
                      'recording')
    if not return_summary:
        return seq
    return seq, dict(entries=len(results), matched=len(found),
                     unmatched=unmatched)


def _present_only(people: np.ndarray) -> np.ndarray:
    """NaN coordinates and confidence 0 where a joint is not finite."""
    ok = np.isfinite(people).all(-1)
    return np.where(ok[..., None], people, np.array([np.nan, np.nan, 0.0]))
