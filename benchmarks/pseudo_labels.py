"""Throughput and accuracy of the epipolar pseudo-label engine.

Two-view frames of 17 joints: the four real Human3.6M poses of the test
sample, randomly rotated and moved (jittered) in the capture volume, seen
by the real cameras of their subject (all 6 pairs, with lens distortion),
with 1-3 px of Gaussian 2D noise. Compared on the same input:

- ours, per frame: ``epipolar_triangulate(..., pooled=False)``;
- ours, pooled: one pose per camera pair from all its frames;
- the EpipolarPose-style OpenCV loop, per frame: ``cv2.undistortPoints``,
  ``cv2.findFundamentalMat`` (LMedS), ``E = K2^T F K1``, ``cv2.recoverPose``,
  ``cv2.triangulatePoints`` (timed on a subset and extrapolated);
- calibrated triangulation with the true R, t (the accuracy floor).

PA-MPJPE (mm, per frame, after similarity alignment) over the frames each
method labels.

    python benchmarks/pseudo_labels.py --frames 100000 --device cpu
"""
import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from mmpose_epipolar.geometry import (
    epipolar_triangulate,
    pa_mpjpe,
    project_points,
    projection_matrices,
    triangulate_dlt,
    undistort_points,
)
from mmpose_epipolar.utils import load_pickle

DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' / \
    'mmpose-testdata' / 'h36m'


def rotation_matrices(rvec: np.ndarray) -> np.ndarray:
    """Rodrigues: (N, 3) axis-angle -> (N, 3, 3)."""
    theta = np.linalg.norm(rvec, axis=-1, keepdims=True)
    k = rvec / np.maximum(theta, 1e-12)
    kx = np.zeros(rvec.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2] = -k[..., 2], k[..., 1]
    kx[..., 1, 0], kx[..., 1, 2] = k[..., 2], -k[..., 0]
    kx[..., 2, 0], kx[..., 2, 1] = -k[..., 1], k[..., 0]
    s, c = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def make_frames(num_frames: int, rng: np.random.Generator):
    """Jittered real poses seen by the real camera pairs of subject S1.

    Returns:
        list[dict]: One per camera pair: ``keypoints`` (F, 2, 17, 3) noisy
        distorted pixels, ``intrinsics`` (2, 3, 3), ``distortion`` (2, 5),
        ``gt`` (F, 17, 3) view-0 camera frame (mm), ``R``, ``t`` the true
        relative pose.
    """
    cams = load_pickle(DATA / 'cameras.pkl', what='camera file')
    ann = json.load(open(DATA / 'h36m_coco.json'))
    base = np.stack([
        np.asarray(a['keypoints_3d']).reshape(17, 4)[:, :3]
        for a in ann['annotations']
    ])
    base = base - base[:, :1]  # root-centred, world metres (z up)
    subject = 'S1'
    ids = sorted(c for s, c in cams if s == subject)
    pairs = list(itertools.combinations(ids, 2))
    per_pair = np.array_split(np.arange(num_frames), len(pairs))
    out = []
    for (c0, c1), idx in zip(pairs, per_pair):
        n = len(idx)
        # Any heading, small tilt, anywhere within 1 m of the centre of the
        # capture volume (where the real root was).
        rot = rotation_matrices(
            np.concatenate([rng.normal(0, 0.1, (n, 2)),
                            rng.uniform(-np.pi, np.pi, (n, 1))], -1))
        pose = base[rng.integers(0, len(base), n)] @ rot.transpose(0, 2, 1)
        centre = np.array([0.0, 0.0, 0.9]) + np.concatenate(
            [rng.uniform(-1, 1, (n, 2)), np.zeros((n, 1))], -1)
        world = pose + centre[:, None]
        kps, ks, ds, cam_pts = [], [], [], []
        for c in (c0, c1):
            p = cams[(subject, c)]
            k = np.array([[p['f'][0, 0], 0, p['c'][0, 0]],
                          [0, p['f'][1, 0], p['c'][1, 0]], [0, 0, 1]])
            d = np.array([p['k'][0, 0], p['k'][1, 0], p['p'][0, 0],
                          p['p'][1, 0], p['k'][2, 0]])
            xc = (world - p['T'][:, 0]) @ p['R']  # R^T (X - T)
            px = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                                torch.from_numpy(d)).numpy()
            sigma = rng.uniform(1, 3, (n, 1, 1))
            px = px + rng.normal(size=px.shape) * sigma
            kps.append(np.concatenate([px, np.ones((n, 17, 1))], -1))
            ks.append(k)
            ds.append(d)
            cam_pts.append(xc)
        p0, p1 = cams[(subject, c0)], cams[(subject, c1)]
        r_rel = p1['R'].T @ p0['R']
        t_rel = p1['R'].T @ (p0['T'][:, 0] - p1['T'][:, 0])
        out.append(dict(pair=(c0, c1), keypoints=np.stack(kps, 1),
                        intrinsics=np.stack(ks), distortion=np.stack(ds),
                        gt=cam_pts[0] * 1000, R=r_rel, t=t_rel))
    return out


def errors(points, valid, gt) -> np.ndarray:
    """Per-frame PA-MPJPE (mm), NaN for frames with < 3 valid joints."""
    e = pa_mpjpe(torch.as_tensor(points, dtype=torch.float64).cpu(),
                 torch.as_tensor(gt, dtype=torch.float64),
                 torch.as_tensor(valid).cpu())
    return e.numpy()


def run_ours(pairs, pooled: bool, device: str):
    """Returns seconds and per-frame errors over all pairs."""
    inputs = [(torch.as_tensor(p['keypoints'], device=device),
               torch.as_tensor(p['intrinsics'], device=device),
               torch.as_tensor(p['distortion'], device=device))
              for p in pairs]
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    outs = [epipolar_triangulate(k, i, d, pooled=pooled)
            for k, i, d in inputs]
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    errs = [errors(pts, ok, p['gt']) for (pts, ok), p in zip(outs, pairs)]
    return seconds, np.concatenate(errs)


def run_calibrated(pairs):
    """Triangulation with the true relative pose (not timed as a method)."""
    errs = []
    for p in pairs:
        kp = torch.from_numpy(p['keypoints'])
        n = kp.shape[0]
        xn = undistort_points(
            kp[..., :2].permute(1, 0, 2, 3).reshape(2, -1, 2),
            torch.from_numpy(p['intrinsics']),
            torch.from_numpy(p['distortion'])).reshape(2, n, 17, 2)
        proj = torch.stack([
            projection_matrices(torch.eye(3, dtype=torch.float64),
                                torch.zeros(3, dtype=torch.float64)),
            projection_matrices(torch.from_numpy(p['R']),
                                torch.from_numpy(p['t']))
        ])
        x, ok = triangulate_dlt(xn.permute(1, 0, 2, 3),
                                proj.expand(n, -1, -1, -1), solver='linear')
        errs.append(errors(x, ok, p['gt']))
    return np.concatenate(errs)


def run_opencv(pairs, max_frames: int):
    """The EpipolarPose-style per-frame loop on the first frames of each
    pair (``max_frames`` in all). Returns seconds, frames, errors."""
    import cv2
    per_pair = max(1, max_frames // len(pairs))
    total, errs, frames = 0.0, [], 0
    for p in pairs:
        kp = p['keypoints'][:per_pair]
        k0, k1 = p['intrinsics']
        d0, d1 = p['distortion']
        p0 = np.hstack([np.eye(3), np.zeros((3, 1))])
        pts = np.zeros((len(kp), 17, 3))
        ok = np.zeros((len(kp), 17), bool)
        start = time.perf_counter()
        for i in range(len(kp)):
            u0 = cv2.undistortPoints(kp[i, 0, :, None, :2], k0, d0, P=k0)
            u1 = cv2.undistortPoints(kp[i, 1, :, None, :2], k1, d1, P=k1)
            f, _ = cv2.findFundamentalMat(u0, u1, cv2.FM_LMEDS)
            if f is None or f.shape != (3, 3):
                continue
            e = k1.T @ f @ k0
            n0 = cv2.undistortPoints(u0, k0, None)
            n1 = cv2.undistortPoints(u1, k1, None)
            _, r, t, _ = cv2.recoverPose(e, n0, n1)
            x = cv2.triangulatePoints(p0, np.hstack([r, t]), n0[:, 0].T,
                                      n1[:, 0].T)
            pts[i] = (x[:3] / x[3]).T
            ok[i] = np.isfinite(pts[i]).all(-1)
        total += time.perf_counter() - start
        pts[~ok] = 0
        errs.append(errors(pts, ok, p['gt'][:per_pair]))
        frames += len(kp)
    return total, frames, np.concatenate(errs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=100_000)
    parser.add_argument('--opencv-frames', type=int, default=5_000,
                        help='frames the OpenCV loop is timed on')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    rng = np.random.default_rng(args.seed)
    pairs = make_frames(args.frames, rng)
    n = sum(len(p['gt']) for p in pairs)
    print(f'{n} two-view frames, 17 joints, S1 camera pairs '
          f'{[p["pair"] for p in pairs]}, 1-3 px noise, device '
          f'{args.device}, {torch.get_num_threads()} threads')
    # Warm-up (allocator, kernels) on a small input.
    epipolar_triangulate(pairs[0]['keypoints'][:64], pairs[0]['intrinsics'],
                         pairs[0]['distortion'], pooled=False)

    rows = []
    cv_s, cv_n, cv_err = run_opencv(pairs, args.opencv_frames)
    cv_fps = cv_n / cv_s
    rows.append(('OpenCV loop (EpipolarPose)', cv_n, cv_s, cv_fps, cv_err))
    for name, pooled in (('ours, per frame', False), ('ours, pooled', True)):
        s, err = run_ours(pairs, pooled, args.device)
        rows.append((name, n, s, n / s, err))
    calib = run_calibrated(pairs)

    print(f'\n{"method":<28}{"frames":>8}{"time s":>9}{"frames/s":>11}'
          f'{"x OpenCV":>9}{"valid %":>9}{"PA-MPJPE mm":>13}{"(mean)":>8}')
    for name, frames, s, fps, err in rows:
        print(f'{name:<28}{frames:>8}{s:>9.2f}{fps:>11.0f}'
              f'{fps / cv_fps:>9.1f}{100 * np.isfinite(err).mean():>9.1f}'
              f'{np.nanmedian(err):>13.1f}{np.nanmean(err):>8.1f}')
    print(f'{"calibrated (true R, t)":<28}{n:>8}{"":>9}{"":>11}{"":>9}'
          f'{100 * np.isfinite(calib).mean():>9.1f}'
          f'{np.nanmedian(calib):>13.1f}{np.nanmean(calib):>8.1f}')
    print(f'\nOpenCV loop timed on {cv_n} frames (the first of each pair) '
          f'and extrapolated: {n / cv_fps:.0f} s for {n} frames. Its '
          f'PA-MPJPE is over those {cv_n} frames; ours over all {n} '
          f'(per frame on the same subset: '
          f'{np.nanmedian(_subset(rows[1][4], pairs, cv_n)):.1f} mm median).')
    pooled_err, floor = np.nanmedian(rows[2][4]), np.nanmedian(calib)
    print(f'pooled / calibrated PA-MPJPE (median): {pooled_err / floor:.3f}')


def _subset(err, pairs, cv_n):
    """Errors of the frames the OpenCV loop saw."""
    per_pair = max(1, cv_n // len(pairs))
    out, start = [], 0
    for p in pairs:
        out.append(err[start:start + per_pair])
        start += len(p['gt'])
    return np.concatenate(out)


if __name__ == '__main__':
    main()
