"""Make epipolar 3D pseudo-labels from multi-view 2D predictions.

    python tools/make_pseudo_labels.py PREDICTIONS CAMERAS --out LABELS.npz
        [--mode pooled|per-frame] [--views 2] [--reproj-thresh 15]

PREDICTIONS: the pickle of ``tools/test.py CONFIG CKPT --dump preds.pkl``
or an NPZ with ``imgname`` (N,) and ``keypoints`` (N, J, 3). CAMERAS:
Human3.6M's ``cameras.pkl``. Images are grouped by Human3.6M name
(subject, action and sub-action, camera, frame) into synchronous frames of
one static camera set per sequence; a frame seen by fewer than ``--views``
views is skipped (and counted). ``--mode pooled`` estimates one relative
pose per camera pair and sequence from all its frames, ``per-frame`` one
per frame. Output: the pseudo-label NPZ of docs/conventions.md. The work is
done by :func:`mmpose_epipolar.apis.make_h36m_pseudo_labels`.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis.pseudo_labels import (  # noqa: E402
    make_h36m_pseudo_labels,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Epipolar 3D pseudo-labels from multi-view 2D.')
    parser.add_argument('predictions', help='DumpResults .pkl or .npz')
    parser.add_argument('cameras', help='Human3.6M cameras.pkl')
    parser.add_argument('--out', required=True, help='output .npz')
    parser.add_argument('--mode', choices=['pooled', 'per-frame'],
                        default='pooled')
    parser.add_argument('--views', type=int, default=2,
                        help='least views a frame needs (>= 2)')
    parser.add_argument('--reproj-thresh', type=float, default=15.0,
                        help='pixels; joints above are masked')
    parser.add_argument('--min-valid-joints', type=int, default=8)
    parser.add_argument('--threshold-px', type=float, default=3.0,
                        help='pixels; robust scale of the pose estimation, '
                        'bundle adjustment and triangulation')
    parser.add_argument('--min-confidence', type=float, default=0.0)
    parser.add_argument('--img-root', default=None,
                        help='strip this from img_path (.pkl input)')
    args = parser.parse_args(argv)
    if args.views < 2:
        parser.error('--views must be >= 2')
    if not args.out.endswith('.npz'):
        parser.error(f'--out must end in .npz, got {args.out!r}')
    return args


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    return make_h36m_pseudo_labels(
        args.predictions, args.cameras, args.out, mode=args.mode,
        views=args.views, reproj_thresh=args.reproj_thresh,
        min_valid_joints=args.min_valid_joints, img_root=args.img_root,
        threshold_px=args.threshold_px, min_confidence=args.min_confidence)


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, KeyError, ValueError) as e:
        # The message names the file and the field; no traceback needed.
        sys.exit(f'make_pseudo_labels: error: {e}')
