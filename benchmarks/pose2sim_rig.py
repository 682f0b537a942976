"""Calibration-free rig recovery on real footage: Pose2Sim's demo.

One person filmed by four static synchronised cameras (100 frames), the 2D
that MediaPipe BlazePose found in every frame (COCO-17, converted to the
network's H36M-16 layout, synthesized joints taking the lowest confidence
of their sources) and the cameras' intrinsics only go into the pooled
epipolar engine (one rig for all frames, all views jointly). The recovered
rig is then compared with the Qualisys extrinsics of the calibration:

- per camera, the rotation error and the translation-direction error
  (degrees), relative to camera 1;
- the median distance (mm) of our 3D to calibrated triangulation of the
  same 2D, after a Procrustes alignment per frame (PA-MPJPE's) and after
  one similarity for the whole sequence (stricter);
- the median reprojection error (px) of each rig's own triangulation;
- the pseudo-labels of the 400 views (15 px threshold, 8 joints): the
  fraction of views labelled and their reprojection median, with plain
  and with robust triangulation (MediaPipe swaps left and right in one
  view now and then).

    python benchmarks/pose2sim_rig.py [--layout coco17] [--json out.json]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from mmpose_epipolar.datasets.calibration import (
    camera_arrays,
    load_calibration,
)
from mmpose_epipolar.datasets.keypoint_files import load_keypoints_npz
from mmpose_epipolar.evaluation.rig_eval import rig_report
from mmpose_epipolar.geometry import epipolar_triangulate, make_pseudo_labels

DEMO = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' / \
    'pose2sim-demo'


def recover_rig(demo: Path = DEMO, layout: str = 'h36m16'):
    """Run the engine on the demo and compare with its calibration.

    Args:
        demo (Path): The ``pose2sim-demo`` folder.
        layout (str): ``'h36m16'`` (converted) or ``'coco17'`` (as found).

    Returns:
        tuple: The report of :func:`rig_report` (distance in mm) and the
        engine's run time in seconds.
    """
    seq = load_keypoints_npz(demo / 'mediapipe_coco17.npz', 'coco17')
    if layout != 'coco17':
        seq = seq.converted(layout)
    calib = load_calibration(demo / 'calibration' / 'calibration.toml')
    by_name = {c.name: c for c in calib}
    cameras = [by_name[c] for c in seq.cameras]
    keypoints = seq.best_person()
    intrinsics, distortion = camera_arrays(cameras)
    start = time.perf_counter()
    _, _, rig = epipolar_triangulate(keypoints, intrinsics, distortion,
                                     pooled=True, return_poses=True)
    seconds = time.perf_counter() - start
    report = rig_report(keypoints, cameras, rig['rotation'][0],
                        rig['translation'][0], rig['valid'][0])
    # The calibration is in metres.
    report['distance_3d'] *= 1000.0
    report['distance_3d_global'] *= 1000.0
    report['gauge'] = seq.cameras[int(rig['gauge'][0])]
    return report, seconds


def label_quality(demo: Path = DEMO) -> dict:
    """Labelled fraction and reprojection median of the pooled engine's
    pseudo-labels, plain and robust triangulation."""
    seq = load_keypoints_npz(demo / 'mediapipe_coco17.npz',
                             'coco17').converted('h36m16')
    calib = load_calibration(demo / 'calibration' / 'calibration.toml')
    by_name = {c.name: c for c in calib}
    intrinsics, distortion = camera_arrays([by_name[c] for c in seq.cameras])
    out = {}
    for name, robust in (('plain', False), ('robust', True)):
        labels = make_pseudo_labels(seq.best_person(), intrinsics,
                                    distortion, pooled=True,
                                    reproj_thresh=15.0, min_valid_joints=8,
                                    robust_triangulation=robust)
        err = labels['reproj_error'][labels['reproj_error'] >= 0]
        out[name] = dict(valid=float(labels['valid'].mean()),
                         reproj_p50=float(np.median(err)))
    return out


def print_report(report, seconds: float, layout: str) -> None:
    print(f'pose2sim-demo, MediaPipe 2D as {layout}, intrinsics only, '
          f'pooled engine: {seconds:.2f} s')
    print(f"{'camera':8s}{'rotation (deg)':>16s}{'t direction (deg)':>19s}"
          f"{'reproj ours (px)':>18s}{'Qualisys (px)':>15s}")
    for i, name in enumerate(report['cameras']):
        rot, trans = report['rotation_deg'][i], report['translation_deg'][i]
        ours = report['reproj_px_per_camera'].get(name, np.nan)
        cal = report['reproj_px_per_camera_calibrated'].get(name, np.nan)
        pose = f"{'reference':>35s}" if i == 0 else \
            f'{rot:16.2f}{trans:19.2f}'
        print(f'{name:8s}{pose}{ours:18.2f}{cal:15.2f}')
    print(f"3D vs calibrated triangulation, median over {report['joints']} "
          f"joints: {report['distance_3d']:.1f} mm (Procrustes per frame), "
          f"{report['distance_3d_global']:.1f} mm (one similarity for all "
          'frames)')
    print(f"reprojection median: ours {report['reproj_px']:.2f} px, "
          f"Qualisys {report['reproj_px_calibrated']:.2f} px")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--layout', default='h36m16',
                        choices=['h36m16', 'coco17'])
    parser.add_argument('--demo', type=Path, default=DEMO)
    parser.add_argument('--json', type=Path, help='also write the figures')
    args = parser.parse_args()
    report, seconds = recover_rig(args.demo, args.layout)
    print_report(report, seconds, args.layout)
    quality = label_quality(args.demo)
    for name, q in quality.items():
        print(f"pseudo-labels, {name} triangulation: {100 * q['valid']:.1f} "
              f"% of views labelled, reprojection median "
              f"{q['reproj_p50']:.2f} px")
    report['labels'] = quality
    if args.json:
        # NaN (the reference camera's errors) is not JSON: null.
        out = {k: ([None if np.isnan(x) else x for x in v.tolist()]
                   if isinstance(v, np.ndarray) else v)
               for k, v in report.items()}
        args.json.write_text(json.dumps(dict(out, seconds=seconds),
                                        indent=1))


if __name__ == '__main__':
    main()
