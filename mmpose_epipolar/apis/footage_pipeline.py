# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Self-supervised 3D pose from your own synchronised cameras, stage by
stage (``tools/footage_pipeline.py`` is its command line).

1. frames: the recording's videos decoded once into ``DIR/frames`` (or its
   image folders indexed), cameras matched to the calibration by name
   (:func:`~mmpose_epipolar.datasets.recording.index_recording`);
2. 2D: precomputed keypoints aligned to the frames, or person boxes from
   an mmdet detector and any MMPose top-down 2D model on them; converted to
   the network's H36M-16 layout; where a view shows several people, the
   one whose 2D agrees with the other views (epipolar geometry) is kept;
3. labels: the pooled epipolar engine over all frames of the static rig
   (intrinsics only: the calibration's extrinsics are NEVER used here)
   writes ``DIR/pseudo_labels.npz`` and the recovered rig ``DIR/rig.toml``;
   when the calibration has extrinsics, the rig is compared with them;
4. train: self-supervised 3D training on the recording's views, with
   synthetic occlusion, from a 2D checkpoint (``DIR/train``);
5. demo: the trained model on one camera's frames, as a video
   (``DIR/demo``).

Every stage reuses its output when its inputs did not change (the frame
cache, the detector and 2D caches, the label file's fingerprint, the final
checkpoint, the demo video), so running the command again only redoes what
changed, and an interrupted training resumes. ``DIR/summary.json`` records
what each stage found, cut, masked and reused.
"""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..datasets.calibration import (
    CameraCalibration,
    camera_arrays,
    load_calibration,
    save_calibration_toml,
    scale_for_distance,
    scale_rig,
    select_cameras,
    with_extrinsics,
)
from ..datasets.keypoint_files import KeypointSequence, load_keypoints
from ..datasets.pseudo_label_file import (
    load_pseudo_labels,
    save_pseudo_labels,
)
from ..datasets.recording import RecordingIndex, index_recording
from ..geometry import EpipolarOptions
from ..utils.atomic_file import atomic_open
from .pseudo_labels import (
    CameraSet,
    build_pseudo_labels,
    label_summary,
    print_summary,
)

#: The stages in order; ``until`` names the last one to run.
STAGES = ('frames', '2d', 'labels', 'train', 'demo')
#: The network's joint layout.
LAYOUT = 'h36m16'
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_TRAIN_CONFIG = osp.join(
    ROOT, 'configs/body_3d_keypoint/pose_resnet/footage/'
    'td-vol_cbam-res50-wasp_selfsup-1xb16-20e_footage-256x256.py')
DEMO_SCRIPT = osp.join(ROOT, 'demo', 'topdown_3d_demo_with_mmdet.py')
# Bumped when the label recipe changes, so old label files are rebuilt.
_LABEL_VERSION = 1


@dataclass
class FootageOptions:
    """What :func:`run_footage_pipeline` works on.

    Args:
        recording (str): ``RECORDING`` (``videos/<camera>.<ext>`` or
            ``images/<camera>/``).
        calib (str): The calibration (TOML, OpenCV or ``cameras.pkl``):
            its intrinsics are used; its extrinsics only for the report.
        work_dir (str): ``DIR``, where every stage writes.
        keypoints (str, optional): Precomputed 2D: our ``.npz``
            (``keypoints`` (F, V, J, 3), ``cameras`` (V,)) or MMPose's
            ``DumpResults`` pickle (``.pkl``).
        keypoints_dir (str, optional): Precomputed 2D as one folder per
            camera of OpenPose-style JSON.
        keypoint_layout (str): The precomputed 2D's joints (``'coco17'``,
            ``'mpii16'``, ``'h36m17'``, ``'h36m16'``).
        teacher (tuple, optional): ``(config, checkpoint)`` of an MMPose
            top-down 2D model run on person boxes (without precomputed 2D).
        det_config, det_checkpoint (str, optional): The person detector
            (default: RTMDet, see :mod:`.person_detection`).
        det_score_thr (float): Least detector score of a person box.
        offsets (dict, optional): Per camera, its frame number of timeline
            frame 0.
        frame_range (tuple, optional): Timeline ``(start, stop)``.
        step (int): Keep every ``step``-th frame.
        min_views (int): Fewest views with 2D a labelled frame has.
        reproj_thresh (float): Pixels; joints reprojecting farther are
            masked in the labels.
        min_valid_joints (int): Visible joints a labelled view needs.
        camera_distance (tuple, optional): ``(camera, camera, distance)``,
            a measured distance between two camera centres: the unit of
            ``rig.toml``.
        subject_height (float, optional): Else the subject's height from
            the head joint to the ankles (:func:`rig_scale`), in the unit
            wanted for ``rig.toml``.
        calib_unit_mm (float): Millimetres per unit of the calibration's
            translations (Pose2Sim and Anipose TOML: metres, 1000), for
            the report.
        train_config (str): The self-supervised footage config.
        checkpoint_2d (str, optional): The 2D checkpoint training starts
            from (needed for ``train``).
        max_iters (int, optional): Stop training after this many
            iterations (a quick check).
        demo_camera (str, optional): The camera of the demo video
            (default: the first).
        occluder_bank (str, optional): The occluder bank of the training's
            ``SyntheticOcclusion`` (``tools/extract_voc_occluders.py``);
            default: the config's.
        cfg_options (dict, optional): Overrides of the training config
            (MMEngine's ``--cfg-options`` keys).
        until (str): The last stage to run (:data:`STAGES`).
        device (str): ``'cpu'`` or ``'cuda:0'``...
        engine (dict): Flat overrides of :class:`EpipolarOptions`; by
            default robust triangulation (a real detector swaps left and
            right in one view now and then: on Pose2Sim's demo 91% of the
            views get labels with it, 73% without).
    """
    recording: str
    calib: str
    work_dir: str
    keypoints: Optional[str] = None
    keypoints_dir: Optional[str] = None
    keypoint_layout: str = 'coco17'
    teacher: Optional[Tuple[str, str]] = None
    det_config: Optional[str] = None
    det_checkpoint: Optional[str] = None
    det_score_thr: float = 0.3
    offsets: Optional[Dict[str, int]] = None
    frame_range: Optional[Tuple[Optional[int], Optional[int]]] = None
    step: int = 1
    min_views: int = 2
    reproj_thresh: float = 15.0
    min_valid_joints: int = 8
    camera_distance: Optional[Tuple[str, str, float]] = None
    subject_height: Optional[float] = None
    calib_unit_mm: float = 1000.0
    train_config: str = DEFAULT_TRAIN_CONFIG
    checkpoint_2d: Optional[str] = None
    max_iters: Optional[int] = None
    demo_camera: Optional[str] = None
    occluder_bank: Optional[str] = None
    cfg_options: Optional[Dict[str, Any]] = None
    until: str = 'demo'
    device: str = 'cpu'
    engine: Dict[str, Any] = field(
        default_factory=lambda: dict(robust_triangulation=True))

    def __post_init__(self):
        if self.until not in STAGES:
            raise ValueError(f'until must be one of {STAGES}, got '
                             f'{self.until!r}')
        if self.keypoints and self.keypoints_dir:
            raise ValueError('give either keypoints (a file) or '
                             'keypoints_dir (a folder), not both')
        if self.teacher and (self.keypoints or self.keypoints_dir):
            raise ValueError('a teacher model makes the 2D: it excludes '
                             'precomputed keypoints')

    def runs(self, stage: str) -> bool:
        return STAGES.index(stage) <= STAGES.index(self.until)


class FootagePaths:
    """Where the stages of one work dir ``DIR`` write."""

    def __init__(self, work_dir: str) -> None:
        join = lambda name: osp.join(work_dir, name)  # noqa: E731
        self.work_dir = work_dir
        self.frames = join('frames')  # the decoded frames
        self.boxes = join('boxes.npz')  # the detector's cache
        self.teacher_2d = join('teacher_2d.npz')  # the 2D model's cache
        self.keypoints = join('keypoints_2d.npz')  # the chosen person's 2D
        self.labels = join('pseudo_labels.npz')
        self.rig = join('rig.toml')
        self.views = join('views.npz')  # the training views
        self.train = join('train')
        self.demo = join('demo')
        self.summary = join('summary.json')


# The pipeline ---------------------------------------------------------------


def run_footage_pipeline(opts: FootageOptions) -> Dict[str, Any]:
    """Run the stages up to ``opts.until`` (see the module docstring).

    Returns:
        dict: The summary (also written to ``DIR/summary.json``).
    """
    os.makedirs(opts.work_dir, exist_ok=True)
    paths = FootagePaths(opts.work_dir)
    summary: Dict[str, Any] = dict(options=_jsonable(asdict(opts)),
                                   reused=[])
    cameras = load_calibration(opts.calib)
    index = decode_frames(opts, cameras, paths, summary)
    cameras = select_cameras(cameras, index.cameras)
    if opts.runs('2d'):
        keypoints, boxes = find_people(opts, index, cameras, paths, summary)
    if opts.runs('labels'):
        labels = make_labels(opts, index, cameras, keypoints, paths, summary)
        rig = save_rig(opts, cameras, labels, keypoints, paths, summary)
        report_rig(opts, cameras, rig, keypoints, summary)
    if opts.runs('train'):
        checkpoint = train_on_footage(opts, index, labels, boxes, paths,
                                      summary)
    if opts.runs('demo'):
        make_demo(opts, index, cameras, boxes, checkpoint, paths, summary)
    _write_json(paths.summary, summary)
    print_footage_summary(summary)
    return summary


# Stage 1: frames ------------------------------------------------------------


def decode_frames(opts: FootageOptions, cameras: Sequence[CameraCalibration],
                  paths: FootagePaths, summary: Dict) -> RecordingIndex:
    """Index the recording, decoding videos into the frame cache once."""
    print(f'[frames] {opts.recording}')
    index = index_recording(
        opts.recording, [c.name for c in cameras], paths.frames,
        offsets=opts.offsets, frame_range=opts.frame_range, step=opts.step,
        min_views=opts.min_views, progress=True)
    found = index.summary
    work = dict(found.get('decoded', {}), **found.get('checked', {}))
    if not any(work.values()):
        summary['reused'].append('frames')
    summary['frames'] = _jsonable(found)
    return index


# Stage 2: 2D ----------------------------------------------------------------


def find_people(opts: FootageOptions, index: RecordingIndex,
                cameras: Sequence[CameraCalibration], paths: FootagePaths,
                summary: Dict) -> Tuple[np.ndarray, np.ndarray]:
    """Each view's 2D of the one person of the recording, and its box.

    Returns:
        tuple: ``keypoints`` (F, V, J, 3) H36M-16 pixels and confidence
        (NaN, confidence 0 where nobody was found), ``boxes`` (F, V, 5)
        xyxy + score (NaN where nobody).
    """
    from ..datasets.joint_layouts import flip_indices
    from ..geometry.person_choice import choose_people
    from .person_detection import boxes_from_keypoints
    candidates, candidate_boxes, found = people_2d(opts, index, paths)
    intrinsics, distortion = camera_arrays(cameras)
    # The mirror list lets a view whose 2D swapped left and right still
    # agree with the others.
    choice = choose_people(candidates.keypoints, intrinsics, distortion,
                           flip_indices=flip_indices(LAYOUT))
    keypoints = choice.keypoints
    if candidate_boxes is None:
        boxes = boxes_from_keypoints(keypoints)
    else:
        boxes = _chosen(candidate_boxes, choice.choice)
    if 'pose' in found and not found['detection'].get('detected') and \
            not found['pose'].get('predicted'):
        summary['reused'].append('2d')  # the detector and 2D caches
    nobody = choice.choice < 0
    present = index.present
    summary['2d'] = dict(
        source=candidates.source, layout=LAYOUT, found=_jsonable(found),
        person_choice=choice.method,
        frames_with_several_people=int(choice.num_ambiguous),
        views_without_person={c: int((nobody & present)[:, v].sum())
                              for v, c in enumerate(index.cameras)})
    _save_npz_if_changed(paths.keypoints, dict(
        keypoints=keypoints, boxes=boxes, cameras=np.array(index.cameras),
        frames=index.frames, imgname=index.imgnames))
    return keypoints, boxes


def people_2d(opts: FootageOptions, index: RecordingIndex,
              paths: FootagePaths
              ) -> Tuple[KeypointSequence, Optional[np.ndarray], Dict]:
    """Every person's 2D in every view, in the network's layout, and the
    detector's boxes (None for precomputed 2D).

    Returns:
        tuple: ``KeypointSequence`` (F, V, P, J, 3) aligned to ``index``,
        boxes (F, V, P, 5) or None, and what the loaders counted (frames
        the 2D lacks, unreadable images, cached results...).
    """
    from .person_detection import detect_people
    from .topdown_2d import (
        keypoints_for_recording,
        load_dump_results_2d,
        predict_topdown_2d,
    )
    given = opts.keypoints or opts.keypoints_dir
    if given and str(given).endswith('.pkl'):
        print(f'[2d] MMPose DumpResults {given}')
        seq, found = load_dump_results_2d(given, index, opts.keypoint_layout,
                                          return_summary=True)
        boxes = None
    elif given:
        print(f'[2d] precomputed keypoints {given}')
        seq, found = keypoints_for_recording(
            load_keypoints(given, opts.keypoint_layout, index.cameras),
            index, return_summary=True)
        boxes = None
    else:
        if not opts.teacher:
            raise ValueError('no 2D: give precomputed keypoints (--keypoints '
                             'or --keypoints-dir) or a 2D model (--teacher '
                             'CONFIG CHECKPOINT)')
        det = {k: v for k, v in (('det_config', opts.det_config),
                                 ('det_checkpoint', opts.det_checkpoint))
               if v}
        print('[2d] person boxes')
        boxes, detected = detect_people(index, cache_file=paths.boxes,
                                        device=opts.device,
                                        score_thr=opts.det_score_thr,
                                        return_summary=True, **det)
        print(f'[2d] 2D model {opts.teacher[0]}')
        seq, predicted = predict_topdown_2d(
            index, boxes, opts.teacher[0], opts.teacher[1],
            paths.teacher_2d, device=opts.device, return_summary=True)
        found = dict(detection=detected, pose=predicted)
    if seq.layout != LAYOUT:
        seq = seq.converted(LAYOUT)
    return seq, boxes, found


def _chosen(candidates: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """The chosen person's entry (F, V, ...) of (F, V, P, ...); NaN where
    ``choice`` is -1."""
    picked = np.take_along_axis(
        candidates, np.maximum(choice, 0)[:, :, None, None], 2)[:, :, 0]
    return np.where((choice >= 0)[..., None], picked, np.nan)


# Stage 3: labels ------------------------------------------------------------


def make_labels(opts: FootageOptions, index: RecordingIndex,
                cameras: Sequence[CameraCalibration], keypoints: np.ndarray,
                paths: FootagePaths, summary: Dict) -> Dict[str, Any]:
    """Pseudo-labels of every view from the pooled engine, reused when the
    2D and the options are those of the existing label file.

    Returns:
        dict: The label file's arrays (:func:`load_pseudo_labels`) plus the
        recovered rig in ``meta['rig']``.
    """
    fingerprint = label_fingerprint(opts, index, keypoints)
    if osp.isfile(paths.labels):
        labels = load_pseudo_labels(paths.labels)
        if labels['meta'].get('fingerprint') == fingerprint:
            print(f'[labels] reused {paths.labels}')
            summary['reused'].append('labels')
            summary['labels'] = labels['meta']['summary']
            return labels
        print(f'[labels] {paths.labels} was made from other 2D or '
              'options: building it again')
    camera_set, rows, flat = _camera_set(index, cameras, keypoints)
    print(f'[labels] pooled epipolar engine, {len(rows)} frames x '
          f'{len(cameras)} cameras (intrinsics only)')
    options = EpipolarOptions().replace(**opts.engine)
    built = build_pseudo_labels(
        flat, [camera_set], pooled=True, options=options,
        reproj_thresh=opts.reproj_thresh,
        min_valid_joints=opts.min_valid_joints)
    stats = label_summary(built, len(rows), index.num_frames - len(rows))
    print_summary(stats, opts.min_views)
    used = built['used']
    rig = {k: np.asarray(v)[0].tolist()
           for k, v in built['rigs'][camera_set.name].items()
           if k in ('rotation', 'translation', 'valid', 'gauge')}
    arrays = {k: built[k][used] for k in
              ('keypoints', 'keypoints_depth', 'keypoints_visible',
               'reproj_error', 'valid')}
    arrays.update(imgname=index.imgnames.reshape(-1)[used],
                  input_keypoints=flat[used])
    meta = dict(fingerprint=fingerprint, summary=_jsonable(stats),
                rig=rig, cameras=list(index.cameras),
                options=options.to_dict())
    save_pseudo_labels(paths.labels, arrays, meta)
    print(f'[labels] wrote {paths.labels}')
    summary['labels'] = meta['summary']
    return dict(arrays, meta=meta)


def label_fingerprint(opts: FootageOptions, index: RecordingIndex,
                      keypoints: np.ndarray) -> str:
    """A hash of everything the labels depend on."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(keypoints, np.float64).tobytes())
    digest.update('\n'.join(index.imgnames.reshape(-1)).encode())
    digest.update(json.dumps(dict(
        version=_LABEL_VERSION, reproj_thresh=opts.reproj_thresh,
        min_valid_joints=opts.min_valid_joints, min_views=opts.min_views,
        engine=EpipolarOptions().replace(**opts.engine).to_dict()),
        sort_keys=True).encode())
    return digest.hexdigest()


def _camera_set(index: RecordingIndex, cameras: Sequence[CameraCalibration],
                keypoints: np.ndarray
                ) -> Tuple[CameraSet, np.ndarray, np.ndarray]:
    """The recording as one camera set over rows of the flattened
    (F * V, J, 3) 2D; frames with fewer than two views with 2D are left
    out (counted by the caller)."""
    f, v = index.imgnames.shape
    seen = index.present & (keypoints[..., 2] > 0).any(-1)
    kept = np.flatnonzero(seen.sum(1) >= 2)
    rows = np.where(seen, np.arange(f * v).reshape(f, v), -1)[kept]
    intrinsics, distortion = camera_arrays(cameras)
    camera_set = CameraSet(osp.basename(osp.normpath(index.root)),
                           list(index.cameras), intrinsics, distortion, rows)
    return camera_set, kept, keypoints.reshape(f * v, *keypoints.shape[2:])


def save_rig(opts: FootageOptions, cameras: Sequence[CameraCalibration],
             labels: Dict[str, Any], keypoints: np.ndarray,
             paths: FootagePaths, summary: Dict) -> Dict[str, np.ndarray]:
    """Write the recovered rig as ``DIR/rig.toml`` (the calibration's own
    TOML layout, camera 0 the world frame), scaled as asked.

    Returns:
        dict: ``rotation`` (V, 3, 3), ``translation`` (V, 3) in the
        engine's unit (baseline to the gauge camera 1), ``valid`` (V,).
    """
    rig = {k: np.asarray(v) for k, v in labels['meta']['rig'].items()}
    posed = with_extrinsics(cameras, rig['rotation'], rig['translation'],
                            rig['valid'])
    factor, unit = rig_scale(opts, posed, rig, keypoints)
    posed = scale_rig(posed, factor)
    gauge = cameras[int(rig['gauge'])].name
    save_calibration_toml(paths.rig, posed, dict(
        adjusted=False, error=0.0, source='mmpose-epipolar, from 2D only',
        unit=unit, reference_camera=cameras[0].name))
    summary['rig'] = dict(file=paths.rig, unit=unit, gauge=gauge,
                          posed=[c.name for c, ok in
                                 zip(cameras, rig['valid']) if ok])
    print(f'[labels] wrote the recovered rig {paths.rig} ({unit})')
    return rig


def rig_scale(opts: FootageOptions, posed: Sequence[CameraCalibration],
              rig: Dict[str, np.ndarray], keypoints: np.ndarray
              ) -> Tuple[float, str]:
    """The factor taking the engine's unit (gauge baseline 1) to the one
    asked for, and that unit's description.

    ``camera_distance`` fixes the distance of two camera centres;
    ``subject_height`` fixes the median over frames of the subject's
    height measured on the triangulated skeleton as the distance from the
    head joint to the midpoint of the ankles (the H36M-16 joints), which
    is a standing person's height less the head top above the head joint
    (about 10 cm): give that figure.
    """
    if opts.camera_distance:
        first, second, distance = opts.camera_distance
        return (scale_for_distance(posed, first, second, float(distance)),
                f'the distance {first}-{second} = {distance}')
    if opts.subject_height:
        height = _triangulated_height(posed, rig, keypoints)
        if not np.isfinite(height) or height <= 0:
            raise ValueError('cannot scale the rig by the subject height: '
                             'no frame triangulates the head and ankles')
        return (float(opts.subject_height) / height,
                f'subject head-to-ankles = {opts.subject_height}')
    gauge = posed[int(rig['gauge'])].name
    return 1.0, f'unknown scale: {posed[0].name}-{gauge} baseline = 1'


def _triangulated_height(posed, rig, keypoints) -> float:
    from ..datasets.joint_layouts import joint_names
    from ..evaluation.rig_eval import triangulate_with_rig
    views = np.asarray(rig['valid'], bool)
    intrinsics, distortion = camera_arrays(posed)
    points, ok = triangulate_with_rig(
        keypoints[:, views], intrinsics[views], distortion[views],
        rig['rotation'][views], rig['translation'][views])
    names = joint_names(LAYOUT)
    head = names.index('head')
    ankles = [names.index('right_foot'), names.index('left_foot')]
    seen = ok[:, head] & ok[:, ankles].all(-1)
    if not seen.any():
        return float('nan')
    feet = points[seen][:, ankles].mean(1)
    return float(np.median(np.linalg.norm(points[seen, head] - feet,
                                          axis=-1)))


def report_rig(opts: FootageOptions, cameras: Sequence[CameraCalibration],
               rig: Dict[str, np.ndarray], keypoints: np.ndarray,
               summary: Dict) -> None:
    """When the calibration has extrinsics: how close the rig recovered
    from 2D alone is to them, per camera (the extrinsics serve only
    this)."""
    from ..evaluation.rig_eval import rig_report
    if not all(c.has_extrinsics for c in cameras):
        return
    report = rig_report(keypoints, cameras, rig['rotation'],
                        rig['translation'], rig['valid'])
    unit = opts.calib_unit_mm
    rows = {}
    print(f"[labels] recovered rig vs {opts.calib} (relative to "
          f"{cameras[0].name}):")
    print(f"{'camera':10s}{'rotation deg':>14s}{'t direction deg':>17s}"
          f"{'reproj ours px':>16s}{'calibrated px':>15s}")
    for v, name in enumerate(report['cameras']):
        row = dict(rotation_deg=report['rotation_deg'][v],
                   translation_deg=report['translation_deg'][v],
                   reproj_px=report['reproj_px_per_camera'].get(name),
                   reproj_px_calibrated=report[
                       'reproj_px_per_camera_calibrated'].get(name))
        rows[name] = row
        print(f"{name:10s}{row['rotation_deg']:14.2f}"
              f"{row['translation_deg']:17.2f}"
              f"{_number(row['reproj_px']):16.2f}"
              f"{_number(row['reproj_px_calibrated']):15.2f}")
    distance = report['distance_3d'] * unit
    print(f'[labels] our 3D vs calibrated triangulation of the same 2D: '
          f'median {distance:.1f} mm (Procrustes per frame), '
          f"{report['distance_3d_global'] * unit:.1f} mm (one similarity); "
          f"reprojection ours {report['reproj_px']:.2f} px, calibrated "
          f"{report['reproj_px_calibrated']:.2f} px")
    summary['rig_vs_calibration'] = _jsonable(dict(
        cameras=rows, distance_3d_mm=distance,
        distance_3d_global_mm=report['distance_3d_global'] * unit,
        reproj_px=report['reproj_px'],
        reproj_px_calibrated=report['reproj_px_calibrated']))


# Stage 4: training ----------------------------------------------------------


def train_on_footage(opts: FootageOptions, index: RecordingIndex,
                     labels: Dict[str, Any], boxes: np.ndarray,
                     paths: FootagePaths, summary: Dict) -> str:
    """Self-supervised 3D training on the labelled views (resumed when
    interrupted, skipped when finished).

    Returns:
        str: The final checkpoint.
    """
    from .selfsup_pipeline import final_checkpoint, train
    cfg = footage_train_config(opts, index, labels, boxes, paths)
    if osp.isfile(final_checkpoint(cfg)):
        summary['reused'].append('train')
    checkpoint = train(cfg, 'train')
    summary['train'] = dict(config=opts.train_config, work_dir=paths.train,
                            checkpoint=checkpoint,
                            views=int(labels['valid'].sum()))
    return checkpoint


def footage_train_config(opts: FootageOptions, index: RecordingIndex,
                         labels: Dict[str, Any], boxes: np.ndarray,
                         paths: FootagePaths):
    """The training config pointed at this recording's files."""
    from mmengine.config import Config

    if not opts.checkpoint_2d:
        raise ValueError('training starts from a 2D checkpoint: give '
                         '--checkpoint-2d (e.g. the MPII-pretrained Pose '
                         'ResNet, or your stage-1 model)')
    if not osp.isfile(opts.checkpoint_2d):
        raise FileNotFoundError(f'2D checkpoint {opts.checkpoint_2d} does '
                                'not exist')
    write_training_views(index, labels, boxes, paths)
    cfg = Config.fromfile(opts.train_config)
    if opts.cfg_options:
        cfg.merge_from_dict(opts.cfg_options)
    cfg.work_dir = paths.train
    cfg.load_from = opts.checkpoint_2d
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = ''
    dataset.ann_file = osp.abspath(paths.views)
    dataset.calib_file = osp.abspath(opts.calib)
    dataset.data_prefix = dict(img=osp.abspath(index.image_root))
    for transform in dataset.pipeline:
        if transform.get('type') == 'EpipolarPseudoLabel':
            transform['label_file'] = osp.abspath(paths.labels)
            transform['min_valid_joints'] = opts.min_valid_joints
        if transform.get('type') == 'SyntheticOcclusion' and \
                opts.occluder_bank:
            transform['bank_file'] = osp.abspath(opts.occluder_bank)
    if opts.max_iters:
        _stop_after(cfg, opts.max_iters)
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(h.get('type') == 'ProgressBarHook' for h in hooks):
        hooks.append(dict(type='ProgressBarHook'))
    return cfg


def write_training_views(index: RecordingIndex, labels: Dict[str, Any],
                         boxes: np.ndarray, paths: FootagePaths) -> None:
    """The views file of the training set: every labelled view with a
    box."""
    from ..datasets.footage_multiview_dataset import save_footage_views
    f, v = index.imgnames.shape
    flat_names = index.imgnames.reshape(-1)
    flat_boxes = boxes.reshape(f * v, 5)
    cams = np.repeat(np.array(index.cameras)[None], f, 0).reshape(-1)
    frames = np.repeat(index.frames[:, None], v, 1).reshape(-1)
    lookup = {n: i for i, n in enumerate(flat_names) if n}
    rows = np.array([lookup[n] for n, ok in
                     zip(labels['imgname'], labels['valid']) if ok], int)
    rows = rows[np.isfinite(flat_boxes[rows]).all(-1)]
    views = dict(imgnames=flat_names[rows], cameras=cams[rows],
                 frames=frames[rows], bboxes=flat_boxes[rows, :4],
                 bbox_scores=flat_boxes[rows, 4],
                 meta=dict(recording=osp.basename(osp.normpath(index.root))))
    if not _same_views(paths.views, views):
        save_footage_views(paths.views, **views)


def _stop_after(cfg, iters: int) -> None:
    """A quick run: ``iters`` iterations, one checkpoint at the end."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=int(iters),
                         val_interval=int(iters) + 1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=int(iters), by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False)


# Stage 5: demo --------------------------------------------------------------


def make_demo(opts: FootageOptions, index: RecordingIndex,
              cameras: Sequence[CameraCalibration], boxes: np.ndarray,
              checkpoint: str, paths: FootagePaths, summary: Dict) -> str:
    """The trained model on one camera's frames: a video with the 2D
    skeleton and the 3D pose (``demo/topdown_3d_demo_with_mmdet.py``, fed
    this pipeline's boxes and the camera's intrinsics).

    Returns:
        str: The demo video.
    """
    camera = opts.demo_camera or index.cameras[0]
    if camera not in index.cameras:
        raise ValueError(f'demo camera {camera!r} is not in the recording '
                         f'(it has {list(index.cameras)})')
    view = index.cameras.index(camera)
    out_dir = paths.demo
    os.makedirs(out_dir, exist_ok=True)
    video = osp.join(out_dir, f'{camera}.mp4')
    shown = osp.join(out_dir, f'vis_{camera}.mp4')
    stamp = osp.join(out_dir, f'{camera}.checkpoint')
    made_by = _file_stamp(checkpoint)
    if osp.isfile(shown) and osp.isfile(stamp) and \
            Path(stamp).read_text() == made_by:
        print(f'[demo] reused {shown}')
        summary['reused'].append('demo')
        summary['demo'] = dict(video=shown, camera=camera)
        return shown
    rows = np.flatnonzero(index.present[:, view])
    frame_boxes = write_demo_video(index, view, rows, video)
    boxes_file = osp.join(out_dir, f'{camera}_boxes.json')
    _write_json(boxes_file, {osp.basename(video): [
        [] if not np.isfinite(boxes[r, view]).all() else
        [boxes[r, view].tolist()] for r in rows[:frame_boxes]]})
    camera_file = osp.join(out_dir, f'{camera}_camera.json')
    _write_json(camera_file, dict(
        intrinsics=cameras[view].intrinsics.tolist()))
    print(f'[demo] camera {camera}, {frame_boxes} frames')
    cmd = [sys.executable, DEMO_SCRIPT, opts.train_config, checkpoint,
           '--input', video, '--bboxes', boxes_file, '--camera',
           camera_file, '--output-root', out_dir, '--device', opts.device]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise RuntimeError(f'the demo failed (exit {result.returncode}): '
                           + ' '.join(cmd))
    Path(stamp).write_text(made_by)
    summary['demo'] = dict(video=shown, camera=camera, frames=frame_boxes)
    return shown


def write_demo_video(index: RecordingIndex, view: int, rows: np.ndarray,
                     out_file: str, fps: float = 25.0) -> int:
    """The camera's cached frames ``rows`` as one video.

    Returns:
        int: The frames written.
    """
    import cv2
    writer, written = None, 0
    try:
        for row in rows:
            image = cv2.imread(index.image_path(int(row), view))
            if image is None:
                raise ValueError('cannot read cached frame '
                                 f'{index.image_path(int(row), view)}')
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(out_file,
                                         cv2.VideoWriter_fourcc(*'mp4v'),
                                         fps, size)
            writer.write(image)
            written += 1
    finally:
        if writer is not None:
            writer.release()
    return written


# Summary --------------------------------------------------------------------


def print_footage_summary(summary: Dict[str, Any]) -> None:
    """The closing summary: what was found, cut, masked and reused."""
    frames = summary.get('frames', {})
    print('\n== footage pipeline summary ==')
    print(f"cameras: {', '.join(frames.get('cameras', []))}"
          + (f"; in the calibration without media (left out): "
             f"{', '.join(frames['dropped_cameras'])}"
             if frames.get('dropped_cameras') else ''))
    if frames.get('different_lengths'):
        print(f"videos of different lengths {frames.get('lengths')}: the "
              f"common range {frames.get('common_range')} is used")
    print(f"frames: {frames.get('frames')} used, "
          f"{frames.get('frames_below_min_views', 0)} with too few views")
    bad = {c: n for c, n in frames.get('unreadable', {}).items() if n}
    if bad:
        print(f'unreadable frames (masked): {bad}')
    two_d = summary.get('2d')
    if two_d:
        print(f"2D: {two_d['source']}; frames with several people (chosen "
              f"by {two_d['person_choice']} agreement): "
              f"{two_d['frames_with_several_people']}; views without a "
              f"person (masked): {two_d['views_without_person']}")
    labels = summary.get('labels')
    if labels:
        print(f"labels: {labels['views']} views, "
              f"{100 * _number(labels['valid_fraction']):.1f} % valid, "
              f"reprojection p50 {_number(labels['reproj_p50']):.2f} px")
    if 'rig' in summary:
        print(f"rig: {summary['rig']['file']} ({summary['rig']['unit']})")
    for key in ('train', 'demo'):
        if key in summary:
            item = summary[key]
            print(f"{key}: {item.get('checkpoint', item.get('video'))}")
    if summary['reused']:
        print(f"reused: {', '.join(summary['reused'])}")


def _save_npz_if_changed(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write arrays as NPZ (atomically) unless the file holds them
    already, so a rerun leaves the file as it was."""
    if osp.isfile(path):
        with np.load(path, allow_pickle=False) as old:
            if set(old.files) == set(arrays) and all(
                    np.array_equal(old[k], v, equal_nan=v.dtype.kind == 'f')
                    for k, v in arrays.items()):
                return
    with atomic_open(path) as f:
        np.savez_compressed(f, **arrays)


def _same_views(path: str, views: Dict[str, Any]) -> bool:
    """Whether the views file at ``path`` holds these views."""
    from ..datasets.footage_multiview_dataset import load_footage_views
    if not osp.isfile(path):
        return False
    old = load_footage_views(path)
    keys = dict(imgnames='imgname', cameras='camera', frames='frame',
                bboxes='bbox', bbox_scores='bbox_score')
    return all(np.array_equal(old[keys[k]], views[k]) for k in keys) and \
        old.get('meta', {}) == views['meta']


def _number(value) -> float:
    return float('nan') if value is None else float(value)


def _file_stamp(path: str) -> str:
    stat = os.stat(path)
    return f'{osp.abspath(path)} {stat.st_size} {stat.st_mtime_ns}'


def _jsonable(value):
    """Numpy values and tuples as JSON types (NaN as None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _write_json(path: str, data: Any) -> None:
    with atomic_open(path, 'w') as f:
        json.dump(_jsonable(data), f, indent=1)


__all__: List[str] = [
    'FootageOptions', 'FootagePaths', 'STAGES', 'run_footage_pipeline',
    'decode_frames', 'find_people', 'make_labels', 'save_rig', 'rig_scale',
    'report_rig', 'train_on_footage', 'make_demo', 'print_footage_summary'
]
