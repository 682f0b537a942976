# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Make epipolar 3D pseudo-labels from multi-view 2D predictions.

Input 2D, one of:

- the pickle written by MMPose's ``DumpResults`` metric
  (``tools/test.py CONFIG CKPT --dump preds.pkl``): a list of dicts with
  ``img_path`` and ``pred_instances`` holding ``keypoints`` (N, J, 2) and
  ``keypoint_scores`` (N, J) (the highest-scoring instance is used);
- an NPZ with ``imgname`` (N,) and ``keypoints`` (N, J, 3) (x, y, score).

Images are grouped by Human3.6M name
(``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``:
subject, action and sub-action, camera, frame) into synchronous frames of
one static camera set per (subject, sequence). A frame seen by fewer than
``--views`` views is skipped (and counted). ``--mode pooled`` estimates one
relative pose per camera pair and sequence from all its frames;
``per-frame`` one per frame. Output: the pseudo-label NPZ of
docs/conventions.md.

    python tools/make_pseudo_labels.py preds.pkl \
        data/h36m/annotation_body3d/cameras.pkl \
        --out data/h36m/pseudo_labels.npz
"""
import argparse
import itertools
import json
import os.path as osp
import pickle
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmpose_epipolar.datasets.h36m_utils import (
    h36m_camera_to_param,
    parse_h36m_imgname,
)
from mmpose_epipolar.geometry import make_pseudo_labels


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def relative_imgname(img_path: str, img_root: Optional[str] = None) -> str:
    """The image path relative to the image root: ``osp.relpath`` to
    ``img_root`` if given, else Human3.6M's ``subject/sequence.camera/file``
    (the last three path components)."""
    path = str(img_path).replace('\\', '/')
    if img_root:
        return osp.relpath(path, img_root).replace('\\', '/')
    return '/'.join(path.split('/')[-3:])


def load_predictions(path: str, img_root: Optional[str] = None) -> Dict:
    """Read 2D predictions.

    Returns:
        dict: ``imgname`` list of str (N,), ``keypoints`` (N, J, 3).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction file {path!r} does not exist')
    if path.endswith('.npz'):
        with np.load(path, allow_pickle=False) as npz:
            for key in ('imgname', 'keypoints'):
                if key not in npz.files:
                    raise KeyError(f'{path!r} lacks the key {key!r}')
            kp = npz['keypoints'].astype(np.float64)
            names = [str(n) for n in npz['imgname']]
        if kp.ndim != 3 or kp.shape[-1] != 3 or len(kp) != len(names):
            raise ValueError(f"{path!r}: 'keypoints' must be (N, J, 3) with "
                             f'N = len(imgname), got {kp.shape}')
        return dict(imgname=names, keypoints=kp)
    with open(path, 'rb') as f:
        results = pickle.load(f)
    names, kps = [], []
    for i, res in enumerate(results):
        try:
            inst = res['pred_instances']
            xy = _to_numpy(inst['keypoints']).astype(np.float64)
            score = _to_numpy(inst['keypoint_scores']).astype(np.float64)
            img_path = res['img_path']
        except (KeyError, TypeError) as e:
            raise KeyError(f'{path!r}, entry {i}: expected a DumpResults '
                           'dict with img_path and pred_instances.keypoints/'
                           f'keypoint_scores ({e!r})') from e
        if len(xy) == 0:
            continue
        best = int(np.argmax(score.mean(-1)))
        names.append(relative_imgname(img_path, img_root))
        kps.append(np.concatenate([xy[best], score[best][:, None]], -1))
    if not kps:
        raise ValueError(f'{path!r} holds no predicted instances')
    return dict(imgname=names, keypoints=np.stack(kps))


def group_frames(imgnames: Sequence[str]) -> Dict:
    """Group image indices by sequence and frame.

    Returns:
        dict: ``{(subject, action, subaction): {frame: {camera: index}}}``.
    """
    groups = defaultdict(lambda: defaultdict(dict))
    for i, name in enumerate(imgnames):
        p = parse_h36m_imgname(name)
        groups[(p.subject, p.action, p.subaction)][p.frame_idx][
            p.camera_id] = i
    return groups


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(
        description='Epipolar 3D pseudo-labels from multi-view 2D.')
    parser.add_argument('predictions', help='DumpResults .pkl or .npz')
    parser.add_argument('cameras', help="Human3.6M cameras.pkl")
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

    preds = load_predictions(args.predictions, args.img_root)
    if not osp.isfile(args.cameras):
        raise FileNotFoundError(f'camera file {args.cameras!r} not found')
    with open(args.cameras, 'rb') as f:
        cameras = pickle.load(f)
    groups = group_frames(preds['imgname'])
    kp_all = preds['keypoints']
    n, j = kp_all.shape[:2]
    out = dict(
        keypoints=np.zeros((n, j, 2), np.float32),
        keypoints_depth=np.zeros((n, j), np.float32),
        keypoints_visible=np.zeros((n, j), np.float32),
        reproj_error=np.full((n, j), -1.0, np.float32),
        valid=np.zeros(n, bool))
    used = np.zeros(n, bool)
    skipped = 0
    pair_stats = defaultdict(list)  # (cam, cam) -> [valid both]

    from mmengine.utils import ProgressBar
    bar = ProgressBar(len(groups))
    for (subject, action, sub), frames in sorted(groups.items()):
        cams = sorted({c for views in frames.values() for c in views})
        keep = sorted(fr for fr, views in frames.items()
                      if len(views) >= args.views)
        skipped += len(frames) - len(keep)
        if not keep or len(cams) < 2:
            bar.update()
            continue
        params = []
        for c in cams:
            if (subject, c) not in cameras:
                raise KeyError(f'camera {(subject, c)} missing from '
                               f'{args.cameras!r}')
            params.append(h36m_camera_to_param(cameras[(subject, c)]))
        idx = np.full((len(keep), len(cams)), -1)
        for fi, fr in enumerate(keep):
            for ci, c in enumerate(cams):
                idx[fi, ci] = frames[fr].get(c, -1)
        kp = np.where((idx >= 0)[..., None, None], kp_all[idx],
                      np.array([np.nan, np.nan, 0.0]))
        labels = make_pseudo_labels(
            kp, np.stack([p['intrinsics'] for p in params]),
            np.stack([p['distortion'] for p in params]),
            pooled=args.mode == 'pooled',
            reproj_thresh=args.reproj_thresh,
            min_valid_joints=args.min_valid_joints,
            min_confidence=args.min_confidence,
            threshold_px=args.threshold_px)
        present = idx >= 0
        rows = idx[present]
        for key in ('keypoints', 'keypoints_depth', 'keypoints_visible',
                    'reproj_error', 'valid'):
            out[key][rows] = labels[key][present]
        used[rows] = True
        for a, b in itertools.combinations(range(len(cams)), 2):
            both = present[:, a] & present[:, b]
            pair_stats[(cams[a], cams[b])].extend(
                (labels['valid'][both, a] & labels['valid'][both, b]))
        bar.update()
    print()

    meta = dict(mode=args.mode, min_views=args.views,
                reproj_thresh=args.reproj_thresh,
                threshold_px=args.threshold_px,
                min_valid_joints=args.min_valid_joints, num_joints=int(j),
                joint_layout='as in the predictions (H36M-17 for H36M)',
                depth='f_mean * (Z - Z_root) / Z_root, root joint 0',
                sources=dict(predictions=osp.abspath(args.predictions),
                             cameras=osp.abspath(args.cameras)))
    names = np.array(preds['imgname'])[used]
    np.savez_compressed(
        args.out, imgname=names,
        **{k: v[used] for k, v in out.items()}, meta=json.dumps(meta))

    err = out['reproj_error'][used]
    err = err[err >= 0]
    pct = np.percentile(err, [50, 90, 99]) if err.size else [np.nan] * 3
    summary = dict(
        frames=int(sum(len(f) for f in groups.values()) - skipped),
        skipped_frames=int(skipped), views=int(used.sum()),
        valid_fraction=float(out['valid'][used].mean()) if used.any() else
        0.0, reproj_p50=float(pct[0]), reproj_p90=float(pct[1]),
        reproj_p99=float(pct[2]),
        pairs={f'{a}-{b}': float(np.mean(v)) for (a, b), v in
               sorted(pair_stats.items()) if len(v)})
    print(f"frames {summary['frames']} (skipped, < {args.views} views: "
          f"{summary['skipped_frames']}), views {summary['views']}, valid "
          f"{100 * summary['valid_fraction']:.1f} %")
    print('reprojection error px: p50 {:.2f}, p90 {:.2f}, p99 {:.2f}'.format(
        *pct))
    for pair, frac in summary['pairs'].items():
        print(f'  pair {pair}: both views valid {100 * frac:.1f} %')
    print(f'wrote {args.out}')
    return summary

