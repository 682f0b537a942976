"""The engine as named stages: options, the reference pair chosen up front,
the gauge, and degenerate input that must come out masked."""
import dataclasses

import numpy as np
import pytest
import torch

from mmpose_epipolar.geometry import (
    EpipolarOptions,
    RobustOptions,
    choose_reference_pair,
    epipolar_triangulate,
    estimate_pair_poses,
    normalise,
    pa_mpjpe,
)

T = torch.from_numpy


@pytest.fixture(scope='module')
def four_views(h36m):
    """30 jittered real poses of S1 in its 4 real cameras, 2 px noise."""
    rng = np.random.default_rng(3)
    subject, world = h36m.poses[0]
    frames = h36m.jitter(world, 30, rng)
    return h36m.render(frames, subject, h36m.camera_ids(subject), 2.0, rng)


def test_options_flat_names_and_round_trip():
    opts = EpipolarOptions().replace(threshold_px=2.0, robust='ransac',
                                     bundle_adjust=False, min_parallax_deg=2,
                                     seed=None)
    assert opts.robust == RobustOptions(method='ransac', threshold_px=2.0)
    assert opts.refinement.bundle_adjust is False
    assert opts.validity.min_parallax_deg == 2 and opts.seed is None
    assert EpipolarOptions.from_dict(opts.to_dict()) == opts
    assert hash(opts) == hash(EpipolarOptions.from_dict(opts.to_dict()))
    with pytest.raises(TypeError, match='treshold_px'):
        EpipolarOptions().replace(treshold_px=2.0)
    with pytest.raises(ValueError, match='triangulation'):
        EpipolarOptions().replace(triangulation='best')
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 1


def test_options_object_equals_keyword_overrides(four_views):
    kp, k, d = four_views[:3]
    opts = EpipolarOptions().replace(threshold_px=2.0, bundle_adjust=False)
    a = epipolar_triangulate(kp, k, d, options=opts)
    b = epipolar_triangulate(kp, k, d, threshold_px=2.0, bundle_adjust=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_best_pair_has_the_highest_quality(four_views):
    kp, k, d = four_views[:3]
    views = normalise(kp, k, d)
    pairs = estimate_pair_poses(views, True, EpipolarOptions(),
                                torch.Generator().manual_seed(0))
    assert pairs.valid.all()
    best = int(choose_reference_pair(pairs, 'best')[0])
    assert pairs.quality[0, best] == pairs.quality[0].max()
    assert int(choose_reference_pair(pairs, 'first')[0]) == 0
    # An invalid pair is never chosen, whatever its quality.
    broken = dataclasses.replace(
        pairs, valid=pairs.valid.clone().index_fill_(1, torch.tensor(best),
                                                     False))
    assert int(choose_reference_pair(broken, 'best')[0]) != best


@pytest.mark.parametrize('reference', ['best', 'first'])
def test_gauge_view_has_unit_baseline(four_views, reference):
    kp, k, d, gt = four_views[:4]
    pts, ok, rig = epipolar_triangulate(kp, k, d, return_poses=True,
                                        reference=reference)
    gauge = int(rig['gauge'][0])
    np.testing.assert_allclose(
        np.linalg.norm(rig['translation'][0, gauge]), 1.0, rtol=1e-6)
    assert ok.mean() > 0.95
    err = pa_mpjpe(T(pts), T(gt) * 1000, T(ok)).numpy()
    assert np.median(err) < 40


@pytest.mark.parametrize('pooled', [True, False])
def test_identical_views_0_and_1_of_four_stay_bounded(four_views, pooled):
    """Views 0 and 1 are the same camera: pair (0, 1) has no parallax. The
    other pairs give the points; nothing is huge (the old retry returned
    every point valid at 1e9)."""
    kp, k, d, gt = (x.copy() for x in four_views[:4])
    kp[:, 1], k[1], d[1] = kp[:, 0], k[0], d[0]
    pts, ok, rig = epipolar_triangulate(kp, k, d, pooled, return_poses=True)
    assert not (rig['gauge'] == 1).any()
    assert np.isfinite(pts).all()
    assert np.abs(pts).max() < 100  # baselines
    assert ok.mean() > 0.9
    err = pa_mpjpe(T(pts), T(gt) * 1000, T(ok)).numpy()
    assert np.median(err[ok.any(-1)]) < (40 if pooled else 120)


@pytest.mark.parametrize('pooled', [True, False])
def test_zero_frames_or_joints_give_empty_masked_output(four_views, pooled):
    kp, k, d = four_views[:3]
    pts, ok, rig = epipolar_triangulate(kp[:0], k, d, pooled,
                                        return_poses=True)
    assert pts.shape == (0, 17, 3) and ok.shape == (0, 17)
    assert rig['rotation'].shape == ((1, 4, 3, 3) if pooled else
                                     (0, 4, 3, 3))
    assert not rig['valid'].any()
    pts, ok = epipolar_triangulate(kp[:, :, :0], k, d, pooled)
    assert pts.shape == (30, 0, 3) and ok.shape == (30, 0)


def test_per_frame_survives_a_failed_pair_with_view_1(four_views):
    """Per frame, a frame whose pair (0, 1) fails is labelled from the
    other pairs (it used to be dropped whole)."""
    kp, k, d, gt = (x.copy() for x in four_views[:4])
    kp[:5, 1, :, 2] = 0  # view 1 misses frames 0-4
    pts, ok, rig = epipolar_triangulate(kp, k, d, False, return_poses=True)
    assert not rig['valid'][:5, 1].any()
    assert (rig['gauge'][:5] != 1).all()
    assert ok[:5].mean() > 0.9
    err = pa_mpjpe(T(pts[:5]), T(gt[:5]) * 1000, T(ok[:5])).numpy()
    assert np.median(err) < 150
