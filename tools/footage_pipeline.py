"""Self-supervised 3D pose from your own synchronised cameras, in one
command: frames -> 2D -> epipolar pseudo-labels and the recovered rig ->
3D training -> a demo video (README, "Your own cameras").

    python tools/footage_pipeline.py RECORDING --calib CALIB.toml \\
        --work-dir DIR [--keypoints FILE.npz | --keypoints-dir JSON_ROOT
        --keypoint-layout coco17] [--teacher CFG CKPT]
        [--det-config CFG --det-checkpoint CKPT] --checkpoint-2d CKPT
        [--until labels|train|demo]

RECORDING holds ``videos/<camera>.<ext>`` or ``images/<camera>/<files>``,
``<camera>`` being a camera ``name`` of the calibration. Outputs in DIR:
``frames/`` (decoded once), ``keypoints_2d.npz``, ``pseudo_labels.npz``,
``rig.toml`` (the rig recovered from 2D alone, in the calibration's TOML
layout), ``train/``, ``demo/vis_<camera>.mp4`` and ``summary.json``.
Every stage is reused when its inputs did not change, so the command can
be run again. The work is done by
:func:`mmpose_epipolar.apis.footage_pipeline.run_footage_pipeline`.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis.footage_pipeline import (  # noqa: E402
    DEFAULT_TRAIN_CONFIG,
    STAGES,
    FootageOptions,
    run_footage_pipeline,
)
from mmpose_epipolar.utils.safe_pickle import FileLoadError  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Calibration-free self-supervised 3D pose from '
        'synchronised videos of your own cameras.')
    parser.add_argument('recording', help='the recording folder')
    parser.add_argument('--calib', required=True,
                        help='calibration: Anipose/Pose2Sim .toml, OpenCV '
                        '.yml/.json or Human3.6M cameras.pkl (intrinsics '
                        'are used; extrinsics only for the report)')
    parser.add_argument('--work-dir', required=True)
    two_d = parser.add_argument_group(
        '2D (precomputed keypoints, or a 2D model on person boxes)')
    two_d.add_argument('--keypoints', help='.npz (keypoints (F, V, J, 3), '
                       'cameras (V,)) or an MMPose DumpResults .pkl')
    two_d.add_argument('--keypoints-dir',
                       help='one folder per camera of OpenPose-style JSON')
    two_d.add_argument('--keypoint-layout', default='coco17',
                       choices=['coco17', 'mpii16', 'h36m17', 'h36m16'])
    two_d.add_argument('--teacher', nargs=2, metavar=('CONFIG', 'CKPT'),
                       help='any MMPose top-down 2D model')
    two_d.add_argument('--det-config', help='mmdet config (mmdet::... '
                       'allowed); default RTMDet')
    two_d.add_argument('--det-checkpoint')
    two_d.add_argument('--det-score-thr', type=float, default=0.3,
                       help='least detector score of a person box')
    frames = parser.add_argument_group('frames')
    frames.add_argument('--offset', action='append', default=[],
                        metavar='CAMERA=N',
                        help="a camera's own frame number at timeline frame "
                        '0 (repeat per camera)')
    frames.add_argument('--frame-range', nargs=2, type=int,
                        metavar=('START', 'STOP'))
    frames.add_argument('--step', type=int, default=1)
    frames.add_argument('--min-views', type=int, default=2)
    labels = parser.add_argument_group('labels and rig')
    labels.add_argument('--reproj-thresh', type=float, default=15.0,
                        help='pixels; joints reprojecting farther are '
                        'masked')
    labels.add_argument('--min-valid-joints', type=int, default=8)
    labels.add_argument('--camera-distance', nargs=3,
                        metavar=('CAM_A', 'CAM_B', 'DISTANCE'),
                        help='a measured distance between two cameras: '
                        "the unit of rig.toml")
    labels.add_argument('--subject-height', type=float,
                        help="the subject's head-joint-to-ankles height: "
                        'the unit of rig.toml')
    labels.add_argument('--calib-unit-mm', type=float, default=1000.0,
                        help="mm per unit of the calibration's translations"
                        ' (for the report; TOML: metres)')
    train = parser.add_argument_group('training and demo')
    train.add_argument('--train-config', default=DEFAULT_TRAIN_CONFIG)
    train.add_argument('--checkpoint-2d',
                       help='the 2D checkpoint the 3D training starts from')
    train.add_argument('--max-iters', type=int,
                       help='stop after this many iterations (a check)')
    train.add_argument('--demo-camera')
    train.add_argument('--occluder-bank',
                       help='occluder bank of the synthetic occlusion '
                       '(tools/extract_voc_occluders.py); default: the '
                       "config's")
    train.add_argument('--cfg-options', nargs='+', action=DictAction,
                       help='override training config keys, key=value')
    parser.add_argument('--until', choices=STAGES[2:], default='demo')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.keypoints and args.keypoints_dir:
        parser.error('--keypoints and --keypoints-dir exclude each other')
    if args.teacher and (args.keypoints or args.keypoints_dir):
        parser.error('--teacher makes the 2D: it excludes --keypoints')
    if not (args.teacher or args.keypoints or args.keypoints_dir):
        parser.error('give the 2D: --keypoints, --keypoints-dir or '
                     '--teacher CONFIG CKPT')
    if args.min_views < 2:
        parser.error('--min-views must be >= 2')
    try:
        args.offsets = dict(_offset(o) for o in args.offset)
    except ValueError as err:
        parser.error(str(err))
    if args.camera_distance:
        a, b, distance = args.camera_distance
        try:
            args.camera_distance = (a, b, float(distance))
        except ValueError:
            parser.error(f'--camera-distance: {distance!r} is not a number')
    return args


def _offset(text: str):
    camera, sep, number = text.partition('=')
    if not sep or not camera:
        raise ValueError(f'--offset must be CAMERA=N, got {text!r}')
    try:
        return camera, int(number)
    except ValueError:
        raise ValueError(f'--offset {text!r}: {number!r} is not an integer')


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    opts = FootageOptions(
        recording=args.recording, calib=args.calib, work_dir=args.work_dir,
        keypoints=args.keypoints, keypoints_dir=args.keypoints_dir,
        keypoint_layout=args.keypoint_layout,
        teacher=tuple(args.teacher) if args.teacher else None,
        det_config=args.det_config, det_checkpoint=args.det_checkpoint,
        det_score_thr=args.det_score_thr,
        offsets=args.offsets or None,
        frame_range=tuple(args.frame_range) if args.frame_range else None,
        step=args.step, min_views=args.min_views,
        reproj_thresh=args.reproj_thresh,
        min_valid_joints=args.min_valid_joints,
        camera_distance=args.camera_distance,
        subject_height=args.subject_height,
        calib_unit_mm=args.calib_unit_mm, train_config=args.train_config,
        checkpoint_2d=args.checkpoint_2d, max_iters=args.max_iters,
        demo_camera=args.demo_camera, occluder_bank=args.occluder_bank,
        cfg_options=args.cfg_options,
        until=args.until, device=args.device)
    return run_footage_pipeline(opts)


if __name__ == '__main__':
    try:
        main()
    except (FileLoadError, FileNotFoundError, KeyError, ValueError) as e:
        # The message names the file and the field; no traceback needed.
        sys.exit(f'footage_pipeline: error: {e}')
