"""Masked P-MPJPE and N-MPJPE (issue 12): every alignment is fitted per
sample on the visible joints only, on the real Human3.6M ground truth of
the MMPose test sample (4 frames, camera frame, mm)."""
import json
import logging

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmpose.evaluation.functional import keypoint_mpjpe

from mmpose_epipolar.datasets import H36M17_TO_16, H36MMultiViewDataset
from mmpose_epipolar.evaluation import pseudo_label_errors
from mmpose_epipolar.evaluation.metrics import Body3DMPJPE, per_joint_errors
from mmpose_epipolar.evaluation.metrics.body3d_mpjpe import mpjpe_errors
from mmpose_epipolar.geometry.procrustes import (
    aligned_joint_errors,
    procrustes_align,
    scale_align,
)

# H36M-16 joints a COCO-style detector does not give (thorax, neck base,
# head) and one wrist: 12 visible joints, 4 masked.
MASKED = [7, 8, 9, 15]
VISIBLE = [k for k in range(16) if k not in MASKED]


@pytest.fixture(scope='module')
def sample_root(shared_data):
    return shared_data / 'mmpose-testdata' / 'h36m'


@pytest.fixture(scope='module')
def gt_abs(sample_root) -> np.ndarray:
    """The 4 real poses in H36M-16, camera frame, mm: (4, 16, 3)."""
    s = np.load(sample_root / 'test_h36m_body3d.npz')['S']
    return s[:, H36M17_TO_16, :3] * 1000.0


@pytest.fixture(scope='module')
def gt(gt_abs) -> np.ndarray:
    """Root-relative: (4, 16, 3)."""
    return gt_abs - gt_abs[:, :1]


def _mask(num: int, hidden=MASKED) -> np.ndarray:
    mask = np.ones((num, 16), bool)
    mask[:, hidden] = False
    return mask


def _noisy(gt: np.ndarray, sigma: float = 25.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = gt + rng.normal(0, sigma, gt.shape)
    pred[:, 0] = 0  # root-relative, like the metric's inputs
    return pred


def _oracle(pred, gt, alignment):
    """MMPose's keypoint_mpjpe on the visible joints alone: right when every
    sample has the same visible joints."""
    sub = np.ix_(range(len(pred)), VISIBLE)
    return keypoint_mpjpe(pred[sub], gt[sub],
                          np.ones((len(pred), len(VISIBLE)), bool), alignment)


def test_masked_garbage_joints_change_nothing(gt_abs, gt):
    """The prediction equals the ground truth on 12 joints; the 4 masked
    ones are 0 in the camera frame. Every error is 0, where MMPose's
    keypoint_mpjpe (alignment fitted on all joints, mask applied only to
    the mean) is far off: the reason we do not call it."""
    pred = gt.copy()
    pred[:, MASKED] = -gt_abs[:, :1]  # 0 in the camera frame, root-relative
    mask = _mask(len(gt))
    errors = mpjpe_errors(pred, gt, mask)
    for name in ('MPJPE', 'P-MPJPE', 'N-MPJPE'):
        assert errors[name] < 1e-9, (name, errors[name])
    assert (errors['num_samples'], errors['num_samples_unaligned']) == (4, 0)
    mmpose_p = keypoint_mpjpe(pred, gt, mask, 'procrustes')
    mmpose_n = keypoint_mpjpe(pred, gt, mask, 'scale')
    assert mmpose_p > 20 and mmpose_n > 20, (mmpose_p, mmpose_n)
    assert mmpose_p - errors['P-MPJPE'] > 20
    for alignment in ('none', 'procrustes', 'scale'):
        per_joint = per_joint_errors(pred, gt, alignment, mask)
        assert np.abs(per_joint[:, VISIBLE]).max() < 1e-9
        assert np.isnan(per_joint[:, MASKED]).all()  # not counted


def test_nan_in_masked_joints_is_absent(gt):
    """NaN at masked joints (prediction and ground truth) neither raises
    (MMPose's SVD gives LinAlgError) nor reaches the result."""
    pred = _noisy(gt)
    zeros = pred.copy()
    zeros[:, MASKED] = 0
    with_nan = pred.copy()
    with_nan[:, MASKED] = np.nan
    gt_nan = gt.copy()
    gt_nan[1, MASKED[0]] = np.nan
    mask = _mask(len(gt))
    expected = mpjpe_errors(zeros, gt, mask)
    for p, g in ((with_nan, gt), (with_nan, gt_nan), (zeros, gt_nan)):
        errors = mpjpe_errors(p, g, mask)
        for name in ('MPJPE', 'P-MPJPE', 'N-MPJPE'):
            assert np.isfinite(errors[name])
            assert errors[name] == pytest.approx(expected[name], rel=1e-12)
    assert expected['P-MPJPE'] == pytest.approx(
        _oracle(pred, gt, 'procrustes'), rel=1e-9)
    assert expected['N-MPJPE'] == pytest.approx(
        _oracle(pred, gt, 'scale'), rel=1e-9)


def test_known_similarity_is_undone_on_visible_joints(gt):
    """``s R x + t`` of the real poses, masked joints replaced by garbage:
    the fit on the visible joints recovers the inverse transform exactly."""
    rot = cv2.Rodrigues(np.array([0.3, -1.2, 0.5]))[0]
    s, t = 0.7, np.array([120.0, -40.0, 300.0])
    rng = np.random.default_rng(1)
    moved = s * gt @ rot.T + t
    moved[:, MASKED] = rng.normal(0, 1e3, (len(gt), len(MASKED), 3))
    mask = _mask(len(gt))
    T = torch.from_numpy
    aligned, s_fit, r_fit, t_fit = procrustes_align(
        T(moved), T(gt), T(mask.astype(np.float64)))
    np.testing.assert_allclose(aligned.numpy()[:, VISIBLE], gt[:, VISIBLE],
                               atol=1e-9)
    np.testing.assert_allclose(s_fit.numpy(), 1 / s, rtol=1e-12)
    # the inverse of s R x + t is (1 / s) R^T x - R^T t / s
    np.testing.assert_allclose(r_fit.numpy(), np.stack([rot.T] * 4),
                               atol=1e-12)
    np.testing.assert_allclose(t_fit.numpy(), np.stack([-t @ rot / s] * 4),
                               atol=1e-9)
    assert mpjpe_errors(moved, gt, mask)['P-MPJPE'] < 1e-9

    scaled = s * gt
    scaled[:, MASKED] = moved[:, MASKED]
    scaled_fit, s_fit = scale_align(T(scaled), T(gt),
                                    T(mask.astype(np.float64)))
    np.testing.assert_allclose(s_fit.numpy(), 1 / s, rtol=1e-12)
    np.testing.assert_allclose(scaled_fit.numpy()[:, VISIBLE],
                               gt[:, VISIBLE], atol=1e-9)
    assert mpjpe_errors(scaled, gt, mask)['N-MPJPE'] < 1e-9

    # With noise: the same numbers as MMPose's functions on the visible
    # joints alone.
    noise = _noisy(np.zeros_like(gt), seed=2)
    noisy = moved + noise
    assert mpjpe_errors(noisy, gt, mask)['P-MPJPE'] == pytest.approx(
        _oracle(noisy, gt, 'procrustes'), rel=1e-9)
    noisy = scaled + noise
    assert mpjpe_errors(noisy, gt, mask)['N-MPJPE'] == pytest.approx(
        _oracle(noisy, gt, 'scale'), rel=1e-9)


def test_samples_with_fewer_than_4_visible_joints_are_left_out(gt):
    pred = _noisy(gt)
    mask = _mask(len(gt))
    mask[2] = False
    mask[2, [0, 1, 4]] = True  # 3 visible: left out of P-/N-MPJPE
    mask[3] = False
    mask[3, [0, 1, 4, 11]] = True  # 4 visible: aligned
    errors = mpjpe_errors(pred, gt, mask)
    assert errors['num_samples'] == 4
    assert errors['num_samples_unaligned'] == 1
    keep = [0, 1, 3]
    kept = mpjpe_errors(pred[keep], gt[keep], mask[keep])
    assert kept['num_samples_unaligned'] == 0
    for name in ('P-MPJPE', 'N-MPJPE'):
        assert errors[name] == pytest.approx(kept[name], rel=1e-12)
    # MPJPE is unchanged: the mean over every visible joint, sample 2's too
    expected = np.linalg.norm(pred - gt, axis=-1)[mask].mean()
    assert errors['MPJPE'] == pytest.approx(expected, rel=1e-12)
    # per joint: the left-out sample's joints do not count once aligned
    per_joint = per_joint_errors(pred, gt, 'procrustes', mask)
    assert np.isnan(per_joint[2]).all()
    assert np.isfinite(per_joint_errors(pred, gt, 'none', mask)[2, 1])
    # nothing left to align: NaN, not an error
    none = mpjpe_errors(pred[2:3], gt[2:3], mask[2:3])
    assert np.isnan(none['P-MPJPE']) and np.isfinite(none['MPJPE'])
    assert none['num_samples_unaligned'] == 1


def test_ignored_points_never_reach_the_fit():
    """Huge garbage at a weight-0 point (its square overflows) and NaN at a
    weight-1 point: the fit uses the others; a NaN point stays NaN."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(2, 10, 3)))
    rot = torch.from_numpy(cv2.Rodrigues(np.array([0.1, 0.2, 0.3]))[0])
    y = 2.0 * x @ rot.T + 1.0
    x[0, 0] = 1e200
    x[1, 1] = float('nan')
    w = torch.ones(2, 10, dtype=torch.float64)
    w[0, 0] = 0
    aligned, s, r, _ = procrustes_align(x, y, w)
    assert torch.allclose(s, torch.full((2, ), 2.0, dtype=torch.float64))
    assert torch.allclose(r, rot.expand(2, 3, 3), atol=1e-12)
    assert torch.isnan(aligned[1, 1]).all()
    errors, counted = aligned_joint_errors(x, y, w > 0, 'procrustes')
    assert torch.isnan(errors[1, 1]) and counted[1, 1]  # visible NaN: kept
    assert not counted[0, 0]
    good = torch.ones(2, 10, dtype=torch.bool)
    good[0, 0] = good[1, 1] = False
    assert errors[good].max() < 1e-9
    with pytest.raises(ValueError, match='alignment'):
        aligned_joint_errors(x, y, alignment='rigid')


def _data_samples(gt_abs, pred_abs, visible, actions):
    return [
        dict(
            pred_instances=dict(keypoints_3d=pred_abs[i:i + 1]),
            gt_instances=dict(
                keypoints_cam=gt_abs[i:i + 1],
                keypoints_visible=visible[i:i + 1].astype(np.float32)),
            action=actions[i]) for i in range(len(gt_abs))
    ]


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_body3d_mpjpe_end_to_end(gt_abs, tmp_path):
    """process + evaluate: masked joints at 0 (camera frame) or NaN, one
    sample with 3 visible joints; numbers as MMPose's on the visible joints
    of the aligned samples, and the counts returned and logged."""
    # 8 samples: the 4 real poses twice, two actions
    gt_all = np.concatenate([gt_abs, gt_abs + [50.0, 0, 100.0]])
    rel = gt_all - gt_all[:, :1]
    pred_rel = _noisy(rel, seed=4)
    pred_all = pred_rel + gt_all[:, :1]
    pred_all[:4, MASKED] = 0
    pred_all[4:, MASKED] = np.nan
    visible = _mask(8)
    visible[5] = False
    visible[5, [0, 1, 4]] = True
    actions = ['Directions'] * 4 + ['Walking'] * 4
    metric = Body3DMPJPE(out_dir=str(tmp_path))
    metric.dataset_meta = dict(
        keypoint_id2name={k: f'joint{k}' for k in range(16)})
    metric.process(None, _data_samples(gt_all, pred_all, visible, actions))
    records = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        metrics = metric.evaluate(8)
    finally:
        logger.removeHandler(records)

    aligned = [0, 1, 2, 3, 4, 6, 7]
    assert metrics['h36m/num_samples'] == 8
    assert metrics['h36m/num_samples_unaligned'] == 1
    assert metrics['h36m/P-MPJPE'] == pytest.approx(
        _oracle(pred_rel[aligned], rel[aligned], 'procrustes'), rel=1e-9)
    assert metrics['h36m/N-MPJPE'] == pytest.approx(
        _oracle(pred_rel[aligned], rel[aligned], 'scale'), rel=1e-9)
    expected = np.linalg.norm(pred_rel - rel, axis=-1)[visible].mean()
    assert metrics['h36m/MPJPE'] == pytest.approx(expected, rel=1e-9)
    assert metrics['h36m/P-MPJPE_Directions'] == pytest.approx(
        _oracle(pred_rel[:4], rel[:4], 'procrustes'), rel=1e-9)
    assert np.isfinite(metrics['h36m/P-MPJPE_Walking'])
    assert any('MPJPE over 8 samples, P-MPJPE and N-MPJPE over 7' in m
               and '1 samples with fewer than 4 visible joints' in m
               for m in records.messages), records.messages

    with open(tmp_path / 'mpjpe_tables.json') as f:
        tables = json.load(f)
    per_joint = tables['per_joint']['P-MPJPE']
    assert all(np.isnan(per_joint[k]) for k in MASKED)
    assert all(0 < per_joint[k] < 100 for k in VISIBLE[1:])


def test_pseudo_label_errors_fits_on_visible_joints(sample_root, tmp_path):
    """Pseudo-labels made of the real views' ground-truth 2D and depth, with
    4 joints masked (zeros in the file) and one view with 3 visible joints:
    the errors are the lens-model round trip (< 0.5 mm), not the garbage."""
    dataset = H36MMultiViewDataset(
        ann_file='test_h36m_body3d.npz',
        camera_param_file='cameras.pkl',
        data_root=str(sample_root),
        data_prefix=dict(img=''))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    n = len(infos)
    keypoints = np.stack([i['keypoints'][0] for i in infos]).astype(float)
    depth = np.stack([i['keypoints_depth'][0] for i in infos]).astype(float)
    visible = _mask(n).astype(np.float32)
    visible[2] = 0
    visible[2, [0, 1, 4]] = 1
    keypoints[visible == 0] = 0
    depth[visible == 0] = 0
    names = ['/'.join(i['img_path'].replace('\\', '/').split('/')[-3:])
             for i in infos]
    label_file = tmp_path / 'labels.npz'
    np.savez(
        label_file,
        imgname=np.array(names),
        keypoints=keypoints.astype(np.float32),
        keypoints_depth=depth.astype(np.float32),
        keypoints_visible=visible,
        reproj_error=np.zeros((n, 16), np.float32),
        valid=np.ones(n, bool),
        meta=json.dumps(dict(mode='pooled')))
    errors = pseudo_label_errors(str(label_file), dataset)
    assert errors['num_samples'] == n == 4
    assert errors['num_samples_unaligned'] == 1
    assert errors['valid_fraction'] == 1.0
    for name in ('MPJPE', 'P-MPJPE', 'N-MPJPE'):
        assert errors[name] < 0.5, (name, errors[name])  # measured 0.07-0.14
