"""The rig recovered from MediaPipe's 2D of the Pose2Sim demo (intrinsics
only) against the Qualisys extrinsics: the checks of issue 14, through
``benchmarks/pose2sim_rig.py``; and the report itself on exact data."""
import importlib.util

import numpy as np
import pytest

from mmpose_epipolar.datasets.calibration import (
    camera_arrays,
    load_calibration,
    relative_extrinsics,
)
from mmpose_epipolar.evaluation.rig_eval import (
    rig_report,
    triangulate_with_rig,
)


@pytest.fixture
def demo(shared_data):
    folder = shared_data / 'pose2sim-demo'
    if not (folder / 'mediapipe_coco17.npz').is_file():
        pytest.skip(f'pose2sim-demo not found at {folder}')
    return folder


def _benchmark(repo_root):
    spec = importlib.util.spec_from_file_location(
        'pose2sim_rig', repo_root / 'benchmarks' / 'pose2sim_rig.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recovered_rig_matches_qualisys(demo, repo_root):
    report, _ = _benchmark(repo_root).recover_rig(demo, 'h36m16')
    rot, trans = report['rotation_deg'][1:], report['translation_deg'][1:]
    # Measured: rotation 3.56, 3.66, 4.56; direction 2.05, 1.93, 1.42 deg.
    assert (rot < 5.0).all(), rot
    assert (trans < 3.0).all(), trans
    # Measured 6.1 mm per frame (Procrustes), 11.3 mm with one similarity
    # for all 100 frames (above the 10 mm: a regression guard).
    assert report['distance_3d'] < 10.0
    assert report['distance_3d_global'] < 12.5
    # Measured 8.07 px against the Qualisys extrinsics' 15.50 px.
    assert report['reproj_px'] <= report['reproj_px_calibrated']
    assert report['joints'] >= 1500  # of 100 x 16


def test_robust_triangulation_labels_more_real_views(demo, repo_root):
    """MediaPipe swaps left and right in one view now and then; measured:
    plain 73.0 % of the 400 views labelled (8.07 px), robust 90.8 %
    (4.89 px)."""
    quality = _benchmark(repo_root).label_quality(demo)
    plain, robust = quality['plain'], quality['robust']
    assert plain['valid'] < 0.8 and robust['valid'] > 0.88
    assert robust['reproj_p50'] < 0.7 * plain['reproj_p50']


def test_rig_report_on_exact_data(demo):
    """2D made by projecting calibrated 3D with the true cameras: the true
    rig at another scale has zero errors and the inverse scale."""
    cams = load_calibration(demo / 'calibration' / 'calibration.toml')
    kp = np.load(demo / 'mediapipe_coco17.npz')['keypoints'][::10]
    k, d = camera_arrays(cams)
    rot, trans = relative_extrinsics(cams)
    points, valid = triangulate_with_rig(kp, k, d, rot, trans)
    assert valid.all()
    exact = np.stack([cams[v].project(
        points @ rot[v].T + trans[v], world=False) for v in range(4)], 1)
    kp_exact = np.concatenate([exact, kp[..., 2:]], -1)
    report = rig_report(kp_exact, cams, rot, trans * 0.37, np.ones(4, bool))
    np.testing.assert_allclose(report['rotation_deg'][1:], 0, atol=1e-5)
    np.testing.assert_allclose(report['translation_deg'][1:], 0, atol=1e-5)
    assert np.isnan(report['rotation_deg'][0])
    assert report['distance_3d'] < 1e-9 and report['distance_3d_global'] < 1e-9
    np.testing.assert_allclose(report['scale'], 1 / 0.37)
    assert report['reproj_px'] < 1e-6 and report['reproj_px_calibrated'] < 1e-6
    # A rig turned by 2 degrees about camera 2's y axis is reported so.
    turn = np.array([[np.cos(0.0349066), 0, np.sin(0.0349066)], [0, 1, 0],
                     [-np.sin(0.0349066), 0, np.cos(0.0349066)]])
    bad = rot.copy()
    bad[2] = turn @ rot[2]
    report = rig_report(kp_exact, cams, bad, trans, np.ones(4, bool))
    np.testing.assert_allclose(report['rotation_deg'], [np.nan, 0, 2, 0],
                               atol=1e-5)
    assert report['reproj_px'] > 1.0
