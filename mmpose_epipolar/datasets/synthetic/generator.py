# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Write the synthetic multi-view Human3.6M look-alike to disk.

The output follows MMPose's ``preprocess_h36m.py`` layout exactly, so the
real Human3.6M loader reads it unchanged::

    <root>/images/S1/S1_Directions_1.54138969/
        S1_Directions_1.54138969_000001.jpg  (one folder per sequence+camera)
    <root>/annotation_body3d/cameras.pkl
    <root>/annotation_body3d/fps25/h36m_train.npz
    <root>/annotation_body3d/fps25/h36m_test.npz
    <root>/meta.json

Generated frames are every ``frame_step``-th frame of a 50 fps timeline,
numbered from 1 like MMPose's (``<prefix>_{i + 1:06d}.jpg``), and the
annotation folder is ``fps{50 // frame_step}`` (MMPose's naming; ``fps25``
for the default ``frame_step=2``). Everything is drawn from random streams
keyed by ``(seed, subject)`` and ``(seed, subject, action, subaction)``, so
one sequence does not change when others are added or removed, and the same
arguments give bit-identical files.
"""
import functools
import inspect
import json
import multiprocessing
import os
import os.path as osp
import pickle
import shutil
import time
import zipfile
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..h36m_utils import H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS
from .body import (
    Appearance,
    build_body,
    build_stool,
    restyle_for_sequence,
    sample_appearance,
)
from .cameras import (
    H36M_CAMERA_IDS,
    H36M_SUBJECTS,
    h36m_camera,
    pixel_rays,
    project_world_points,
    world_to_camera,
)
from .motion import ACTION_STYLES, H36M_ACTIONS, sample_motion
from .renderer import render_primitives
from .scene import render_background, sample_scene, shadow_factor
from .skeleton import BodyShape, forward_kinematics, sample_body_shape

# 1.1: an outfit per sequence with a front panel; 48 frames, every 2nd.
# 1.2: the body turns around within every clip.
GENERATOR_VERSION = '1.2'
GENERATOR_NAME = 'mmpose_epipolar.datasets.synthetic'
DEFAULT_ACTIONS = ('Directions', 'Greeting', 'Purchases', 'Sitting',
                   'Walking')
# MMPose's preprocess_h36m.py: box side = 1.2 x the joints' extent, / 200.
BBOX_SCALE_FACTOR = 1.2
JPEG_QUALITY = 90


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """An independent random stream for ``(seed, *keys)``."""
    words = [int(seed) & 0xFFFFFFFF]
    words += [zlib.crc32(k.encode('utf-8')) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def rig_centre(cameras: Sequence[Dict]) -> np.ndarray:
    """Floor point (2,) nearest (least squares) to the optical axes."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in cameras:
        d = cam['R'][:, 2]
        proj = np.eye(3) - np.outer(d, d)
        a += proj
        b += proj @ cam['T'].reshape(3)
    return np.linalg.solve(a, b)[:2]


def body_in_view(cameras: Sequence[Dict], root_xy: np.ndarray,
                 margin: float = 0.03) -> bool:
    """Whether a standing body at every root position fits every image.

    Args:
        cameras (sequence): Camera records.
        root_xy (np.ndarray): (T, 2) pelvis floor positions, metres.
        margin (float): Border kept free, as a fraction of the image size.

    Returns:
        bool: True if a 0.7 m wide, 1.9 m tall box around each position
        projects inside every image.
    """
    offs = np.array([[dx, dy, z] for dx in (-0.35, 0.35)
                     for dy in (-0.35, 0.35) for z in (0.0, 1.9)])
    pts = np.concatenate(
        [root_xy, np.zeros((len(root_xy), 1))], axis=1)[:, None] + offs
    for cam in cameras:
        pc = world_to_camera(pts, cam)
        if (pc[..., 2] < 0.5).any():
            return False
        uv = project_world_points(pts, cam)
        lo = margin * np.array([cam['w'], cam['h']])
        hi = np.array([cam['w'], cam['h']]) - 1 - lo
        if (uv < lo).any() or (uv > hi).any():
            return False
    return True


def bbox_center_scale(part: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """MMPose's H36M box: centre of the joints' extent, 1.2 x side / 200.

    Args:
        part (np.ndarray): (N, 17, 2+) 2D joints, pixels.

    Returns:
        tuple: ``center`` (N, 2) and ``scale`` (N,).
    """
    lo = part[..., :2].min(axis=1)
    hi = part[..., :2].max(axis=1)
    center = 0.5 * (lo + hi)
    scale = BBOX_SCALE_FACTOR * (hi - lo).max(axis=1) / 200.0
    return center, scale


def _seq_name(subject: str, action: str, subaction: int,
              camera_id: str) -> str:
    """``S1_Directions_1.54138969``, MMPose's image folder name."""
    return f'{subject}_{action}_{subaction}.{camera_id}'


def _normalise_params(seed: int, train_subjects: Sequence[str],
                      test_subjects: Sequence[str], actions: Sequence[str],
                      subactions: Sequence[int], frames_per_sequence: int,
                      frame_step: int, image_size: int,
                      key_interval: int) -> Dict:
    """Validate the arguments and return them in JSON form."""
    subjects = list(train_subjects) + list(test_subjects)
    for s in subjects:
        if s not in H36M_SUBJECTS:
            raise ValueError(f'Unknown subject {s!r}: synthetic subjects use '
                             f'the real cameras of {H36M_SUBJECTS}.')
    if len(set(subjects)) != len(subjects):
        raise ValueError(f'Subjects repeat or are in both splits: train '
                         f'{list(train_subjects)}, test '
                         f'{list(test_subjects)}.')
    for a in actions:
        if a not in ACTION_STYLES:
            raise ValueError(f'Unknown action {a!r}; expected Human3.6M '
                             f'actions {H36M_ACTIONS}.')
    if len(set(actions)) != len(actions) or not actions:
        raise ValueError(f'actions must be non-empty and unique: {actions}.')
    if not subactions or any(int(s) < 1 for s in subactions) or \
            len(set(subactions)) != len(subactions):
        raise ValueError(f'subactions must be unique integers >= 1, got '
                         f'{subactions}.')
    for name, value in (('frames_per_sequence', frames_per_sequence),
                        ('frame_step', frame_step),
                        ('key_interval', key_interval)):
        if int(value) < 1:
            raise ValueError(f'{name} must be >= 1, got {value}.')
    if frame_step > 50:
        raise ValueError(f'frame_step must be <= 50 (the timeline is 50 '
                         f'fps), got {frame_step}.')
    if int(image_size) < 64:
        raise ValueError(f'image_size must be >= 64, got {image_size}.')
    return dict(
        seed=int(seed),
        train_subjects=list(train_subjects),
        test_subjects=list(test_subjects),
        actions=list(actions),
        subactions=[int(s) for s in subactions],
        frames_per_sequence=int(frames_per_sequence),
        frame_step=int(frame_step),
        image_size=int(image_size),
        key_interval=int(key_interval))


class SyntheticSubject:
    """A synthetic subject: shape, look and its 4 cameras with rays."""

    def __init__(self, name: str, seed: int, image_size: int):
        rng = _rng(seed, 'subject', name)
        self.name = name
        self.shape: BodyShape = sample_body_shape(rng)
        self.appearance: Appearance = sample_appearance(rng)
        self.cameras = [
            h36m_camera(name, cid, image_size) for cid in H36M_CAMERA_IDS
        ]
        self.rays = [pixel_rays(cam) for cam in self.cameras]
        self.centre = rig_centre(self.cameras)


def render_sequence(subject: SyntheticSubject, action: str,
                    subaction: int, params: Dict) -> Dict:
    """Render one sequence in the 4 cameras.

    Args:
        subject (SyntheticSubject): The subject and its cameras.
        action (str): H36M action name.
        subaction (int): Take number.
        params (dict): Normalised generation parameters.

    Returns:
        dict: ``frame_ids`` (T,) 0-based timeline frames, ``joints_world``
        (T, 17, 3) metres, and per camera (in ``H36M_CAMERA_IDS`` order)
        ``images`` (4, T, H, W, 3) uint8 BGR, ``part`` (4, T, 17, 2)
        pixels, ``joints_cam`` (4, T, 17, 3) metres.
    """
    rng = _rng(params['seed'], 'sequence', subject.name, action,
               str(subaction))
    cams = subject.cameras
    motion = sample_motion(
        action,
        params['frames_per_sequence'],
        params['frame_step'],
        rng,
        centre=subject.centre,
        radius=0.8,
        key_interval=params['key_interval'],
        inside=lambda root: body_in_view(cams, root))
    scene = sample_scene(rng, centre=subject.centre)
    app = restyle_for_sequence(subject.appearance, rng)
    size = params['image_size']
    backgrounds = [
        render_background(scene, cam, rays)
        for cam, rays in zip(cams, subject.rays)
    ]
    # Sensor noise: one bank per sequence, a random window per image.
    pad = 16
    noise_bank = rng.normal(0.0, 0.012, size=(size + pad, size + pad,
                                              3)).astype(np.float32)

    num = len(motion.frame_ids)
    images = np.empty((len(cams), num, size, size, 3), np.uint8)
    part = np.empty((len(cams), num, 17, 2))
    joints_cam = np.empty((len(cams), num, 17, 3))
    joints_world = np.empty((num, 17, 3))
    for t in range(num):
        posed = forward_kinematics(subject.shape, motion.angles_at(t),
                                   motion.root_xy[t], motion.heading[t])
        joints_world[t] = posed.joints
        prims = build_stool(posed) + build_body(posed, subject.shape, app)
        j = posed.joints
        blobs = np.stack([j[0, :2], j[3, :2], j[6, :2]])
        sigmas = np.array([0.28, 0.1, 0.1])
        for c, (cam, rays) in enumerate(zip(cams, subject.rays)):
            bg, floor_xy, bg_depth = backgrounds[c]
            shade = shadow_factor(floor_xy, blobs, sigmas,
                                  box=_shadow_box(blobs, sigmas, cam))
            img, _, _ = render_primitives(
                cam,
                rays,
                prims,
                bg * shade[..., None],
                scene.light_dir,
                scene.ambient,
                background_depth=bg_depth)
            oy, ox = rng.integers(0, pad, size=2)
            gain = scene.exposure[c].astype(np.float32)
            img = img * gain + noise_bank[oy:oy + size, ox:ox + size]
            # A slight blur stands in for anti-aliasing and lens softness.
            img = cv2.GaussianBlur(img, (3, 3), 0.6)
            images[c, t] = np.clip(img[..., ::-1] * 255.0 + 0.5, 0,
                                   255).astype(np.uint8)
            joints_cam[c, t] = world_to_camera(j, cam)
            part[c, t] = project_world_points(j, cam)
    return dict(
        frame_ids=motion.frame_ids,
        joints_world=joints_world,
        images=images,
        part=part,
        joints_cam=joints_cam)


def _shadow_box(blobs: np.ndarray, sigmas: np.ndarray,
                cam: Dict) -> Tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) holding the floor within 3 sigma."""
    r = 3.0 * sigmas[:, None, None] * np.array([[-1, -1], [-1, 1], [1, -1],
                                                [1, 1]])
    pts = (blobs[:, None] + r).reshape(-1, 2)
    pts = np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)
    uv = project_world_points(pts, cam)
    x0, y0 = np.floor(uv.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 3
    return (max(x0, 0), max(y0, 0), min(max(x1, 0), cam['w']),
            min(max(y1, 0), cam['h']))


def _read_meta(path: str) -> Optional[Dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def other_generator_version(out_dir: str) -> Optional[str]:
    """The version of this generator that wrote ``out_dir``, when it is
    not the current one (so regenerating replaces only our own output).

    Args:
        out_dir (str): A data folder.

    Returns:
        str, optional: The ``version`` of a ``meta.json`` written by this
        generator, if it differs from :data:`GENERATOR_VERSION`; None for
        current, foreign or missing data.
    """
    meta = _read_meta(osp.join(str(out_dir), 'meta.json'))
    if meta is None or meta.get('generator') != GENERATOR_NAME or \
            meta.get('version') == GENERATOR_VERSION:
        return None
    return str(meta.get('version'))


def stale_output(out_dir: str, **generator_kwargs) -> Optional[str]:
    """Why the data this generator wrote in ``out_dir`` is not what
    :func:`generate_synthetic_h36m` with these arguments makes (another
    version, other parameters), or None for matching, foreign or missing
    data (so regenerating replaces only our own output).

    Args:
        out_dir (str): A data folder.
        **generator_kwargs: Arguments of :func:`generate_synthetic_h36m`;
            the others (``num_workers``, ``overwrite``, ...) are ignored.

    Returns:
        str, optional: ``'generator version X'`` or ``'other generator
        parameters'``.
    """
    old = other_generator_version(out_dir)
    if old is not None:
        return f'generator version {old}'
    meta = _read_meta(osp.join(str(out_dir), 'meta.json'))
    if meta is None or meta.get('generator') != GENERATOR_NAME:
        return None
    defaults = {
        name: param.default for name, param in inspect.signature(
            generate_synthetic_h36m).parameters.items()
        if name in _PARAM_NAMES
    }
    wanted = {k: v for k, v in generator_kwargs.items() if k in _PARAM_NAMES}
    if meta.get('params') != _normalise_params(**{**defaults, **wanted}):
        return 'other generator parameters'
    return None


#: The arguments of :func:`generate_synthetic_h36m` that ``meta.json``
#: records (what the data depends on).
_PARAM_NAMES = ('seed', 'train_subjects', 'test_subjects', 'actions',
                'subactions', 'frames_per_sequence', 'frame_step',
                'image_size', 'key_interval')


def _result(out_dir: str, meta: Dict, reused: bool, seconds: float) -> Dict:
    files = {k: osp.join(out_dir, v) for k, v in meta['files'].items()}
    return dict(
        root=out_dir,
        image_dir=files['images'],
        camera_file=files['cameras'],
        ann_files=dict(train=files['train'], test=files['test']),
        ann_file_rel=dict(
            train=meta['files']['train'], test=meta['files']['test']),
        counts=meta['counts'],
        params=meta['params'],
        reused=reused,
        seconds=seconds)


def generate_synthetic_h36m(
        out_dir: str,
        *,
        seed: int = 0,
        train_subjects: Sequence[str] = H36M_TRAIN_SUBJECTS,
        test_subjects: Sequence[str] = H36M_TEST_SUBJECTS,
        actions: Sequence[str] = DEFAULT_ACTIONS,
        subactions: Sequence[int] = (1, ),
        frames_per_sequence: int = 48,
        frame_step: int = 2,
        image_size: int = 256,
        key_interval: int = 8,
        overwrite: bool = False,
        num_workers: int = 0,
        progress: Optional[Callable[[int, int], None]] = None) -> Dict:
    """Generate (or reuse) the synthetic multi-view Human3.6M look-alike.

    Every subject performs every action x subaction, seen by the 4 real H36M
    cameras of the subject of the same name (resized to ``image_size``).

    Args:
        out_dir (str): Output root.
        seed (int): Master seed; same arguments give bit-identical files.
        train_subjects (sequence): Subjects of ``h36m_train.npz``.
        test_subjects (sequence): Subjects of ``h36m_test.npz``.
        actions (sequence): Human3.6M action names.
        subactions (sequence): Takes per action (1 and/or 2).
        frames_per_sequence (int): Frames per sequence and camera.
        frame_step (int): Timeline (50 fps) frames between saved frames.
        image_size (int): Side of the square images, pixels.
        key_interval (int): Timeline frames between key poses.
        overwrite (bool): Replace an existing folder whose ``meta.json``
            does not match (or is missing). A matching folder is always
            reused.
        num_workers (int): Worker processes rendering sequences in
            parallel (0: in this process). The output does not depend on
            it, so it is not part of ``meta.json``'s parameters.
        progress (callable, optional): Called as ``progress(done, total)``
            before the first and after each rendered sequence.

    Returns:
        dict: ``root``, ``image_dir``, ``camera_file``, ``ann_files``
        (absolute, per split), ``ann_file_rel`` (relative to ``root``),
        ``counts``, ``params``, ``reused`` and ``seconds``.

    Raises:
        FileExistsError: If ``out_dir`` holds other data and not
            ``overwrite``.
        ValueError: On unknown subjects/actions or bad counts.
    """
    params = _normalise_params(seed, train_subjects, test_subjects, actions,
                               subactions, frames_per_sequence, frame_step,
                               image_size, key_interval)
    out_dir = osp.abspath(str(out_dir))
    meta_path = osp.join(out_dir, 'meta.json')
    old = _read_meta(meta_path)
    if old is not None and old.get('version') == GENERATOR_VERSION and \
            old.get('params') == params and all(
                osp.exists(osp.join(out_dir, rel))
                for rel in old.get('files', {}).values()):
        return _result(out_dir, old, reused=True, seconds=0.0)
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        why = ('its meta.json has other parameters or version, or files '
               f'are missing: {old.get("version")!r} {old.get("params")}'
               if old is not None else 'it has no (valid) meta.json')
        raise FileExistsError(
            f'{out_dir} is not empty and {why}; requested version '
            f'{GENERATOR_VERSION!r} {params}. Pass overwrite=True '
            '(--overwrite) to replace it.')

    start = time.time()
    fps_dir = f'fps{50 // params["frame_step"]}'
    files = dict(
        images='images',
        cameras='annotation_body3d/cameras.pkl',
        train=f'annotation_body3d/{fps_dir}/h36m_train.npz',
        test=f'annotation_body3d/{fps_dir}/h36m_test.npz')
    # Build in a sibling folder and move in at the end, so a crash never
    # leaves a half-written folder that looks complete.
    tmp = osp.join(
        osp.dirname(out_dir), f'.{osp.basename(out_dir)}.tmp-{os.getpid()}')
    if osp.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(osp.join(tmp, osp.dirname(files['train'])))

    cameras = {(s, cid): h36m_camera(s, cid, params['image_size'])
               for s in H36M_SUBJECTS for cid in H36M_CAMERA_IDS}
    with open(osp.join(tmp, files['cameras']), 'wb') as f:
        pickle.dump(cameras, f, protocol=4)

    jobs = [(split, name, action, sub)
            for split in ('train', 'test')
            for name in params[f'{split}_subjects']
            for action in params['actions'] for sub in params['subactions']]
    anns: Dict[str, Dict[str, List]] = {
        split: {k: [] for k in ('imgname', 'part', 'S')}
        for split in ('train', 'test')
    }
    tasks = [(job, params, tmp) for job in jobs]
    if progress is not None:
        progress(0, len(jobs))
    if num_workers > 0 and len(jobs) > 1:
        # Sequences are independent random streams: the order of work
        # does not matter and imap returns results in job order.
        ctx = multiprocessing.get_context(
            'fork' if 'fork' in multiprocessing.get_all_start_methods()
            else None)
        with ctx.Pool(min(num_workers, len(jobs)),
                      initializer=_single_threaded_torch) as pool:
            results = pool.imap(_sequence_job, tasks)
            _collect(jobs, results, anns, progress)
    else:
        _collect(jobs, map(_sequence_job, tasks), anns, progress)
    counts: Dict = dict(num_sequences=len(jobs))
    for split in ('train', 'test'):
        _write_annotations(osp.join(tmp, files[split]), anns[split])
        counts[f'{split}_images'] = len(anns[split]['imgname'])

    meta = dict(
        generator=GENERATOR_NAME,
        version=GENERATOR_VERSION,
        params=params,
        counts=counts,
        files=files,
        layout='MMPose preprocess_h36m.py',
        camera_ids=list(H36M_CAMERA_IDS))
    if osp.isdir(out_dir):
        for rel in ('images', 'annotation_body3d', 'meta.json'):
            path = osp.join(out_dir, rel)
            if osp.isdir(path):
                shutil.rmtree(path)
            elif osp.exists(path):
                os.remove(path)
    os.makedirs(out_dir, exist_ok=True)
    for rel in ('images', 'annotation_body3d'):
        os.replace(osp.join(tmp, rel), osp.join(out_dir, rel))
    shutil.rmtree(tmp)
    # meta.json last: its presence marks a complete folder.
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    return _result(out_dir, meta, reused=False, seconds=time.time() - start)


@functools.lru_cache(maxsize=4)
def _cached_subject(name: str, seed: int,
                    image_size: int) -> SyntheticSubject:
    """Subjects (with their pixel rays) are reused across sequences."""
    return SyntheticSubject(name, seed, image_size)


def _single_threaded_torch() -> None:
    """Pool initializer: a forked child must not start the OpenMP thread
    pool its parent used (its locks were copied mid-use, the child hangs);
    one thread per worker, as PyTorch's DataLoader workers do."""
    import torch
    torch.set_num_threads(1)


def _sequence_job(task: Tuple) -> Dict[str, List]:
    """Render and write one sequence; returns its annotation rows."""
    (_, name, action, sub), params, root = task
    subject = _cached_subject(name, params['seed'], params['image_size'])
    seq = render_sequence(subject, action, sub, params)
    ann: Dict[str, List] = {k: [] for k in ('imgname', 'part', 'S')}
    _write_sequence(root, name, action, sub, seq, ann)
    return ann


def _collect(jobs: List[Tuple], results, anns: Dict[str, Dict[str, List]],
             progress: Optional[Callable[[int, int], None]]) -> None:
    """Append each job's rows to its split, in job order."""
    for done, (job, ann) in enumerate(zip(jobs, results), start=1):
        for key, rows in ann.items():
            anns[job[0]][key].extend(rows)
        if progress is not None:
            progress(done, len(jobs))


def _write_sequence(root: str, subject: str, action: str, subaction: int,
                    seq: Dict, ann: Dict[str, List]) -> None:
    """Write one sequence's JPEGs and append its annotation rows."""
    for c, cid in enumerate(H36M_CAMERA_IDS):
        base = _seq_name(subject, action, subaction, cid)
        folder = osp.join(root, 'images', subject, base)
        os.makedirs(folder, exist_ok=True)
        for t, frame in enumerate(seq['frame_ids']):
            rel = f'{subject}/{base}/{base}_{int(frame) + 1:06d}.jpg'
            ok = cv2.imwrite(
                osp.join(root, 'images', rel), seq['images'][c, t],
                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise OSError(f'Could not write image {rel} under {root}.')
            ann['imgname'].append(rel)
            ann['part'].append(seq['part'][c, t])
            ann['S'].append(seq['joints_cam'][c, t])


def _write_annotations(path: str, ann: Dict[str, List]) -> None:
    """Save one split in MMPose's preprocessed H36M ``.npz`` format."""
    n = len(ann['imgname'])
    part = np.concatenate(
        [np.asarray(ann['part']).reshape(n, 17, 2),
         np.ones((n, 17, 1))], axis=2)
    kps3d = np.concatenate(
        [np.asarray(ann['S']).reshape(n, 17, 3),
         np.ones((n, 17, 1))], axis=2)
    center, scale = bbox_center_scale(part)
    save_npz_deterministic(
        path,
        dict(
            imgname=np.array(ann['imgname'], dtype=str),
            center=center,
            scale=scale,
            part=part,
            S=kps3d))


def save_npz_deterministic(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """``np.savez`` without the zip entries' time stamps.

    ``np.savez`` stamps every member with the current time, so two runs would
    never be byte-identical; a fixed date keeps the file a pure function of
    the arrays. The result loads with ``np.load`` like any ``.npz``.
    """
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f'{key}.npy', date_time=(1980, 1, 1, 0,
                                                            0, 0))
            with zf.open(info, 'w', force_zip64=True) as f:
                np.lib.format.write_array(
                    f, np.asanyarray(value), allow_pickle=False)
