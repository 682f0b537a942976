"""COCO-17 -> H36M-16 (and the other layouts) on MediaPipe's real 2D of the
Pose2Sim demo: synthesized joints are midpoints with the lowest confidence
of their sources, a NaN source gives a NaN joint of confidence 0."""

import numpy as np
import pytest
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import TRANSFORMS

from mmpose_epipolar.datasets.joint_layouts import (
    COCO17_TO_H36M16,
    COCO17_TO_H36M16_CONVERTER,
    H36M17_TO_16,
    MPII_TO_H36M16,
    convert_keypoints,
    keypoint_converter_mapping,
    layout_metainfo_file,
)

# COCO indices.
NOSE, L_EYE, R_EYE, L_SHO, R_SHO, L_HIP, R_HIP = 0, 1, 2, 5, 6, 11, 12
# H36M-16 indices.
ROOT, R_KNEE, L_HIP16, THORAX, NECK, HEAD, L_SHO16, R_WRIST = (0, 2, 4, 7, 8,
                                                               9, 10, 15)


@pytest.fixture
def mediapipe(shared_data) -> np.ndarray:
    path = shared_data / 'pose2sim-demo' / 'mediapipe_coco17.npz'
    if not path.is_file():
        pytest.skip(f'{path} missing')
    return np.load(path)['keypoints']  # (100, 4, 17, 3)


# H36M-16 name -> the COCO joint(s) that stand in for it.
STAND_IN = dict(root=('left_hip', 'right_hip'), right_foot='right_ankle',
                left_foot='left_ankle',
                thorax=('left_shoulder', 'right_shoulder'),
                neck_base='nose', head=('left_eye', 'right_eye'))


def test_mapping_matches_joint_names_and_flips():
    ours = parse_pose_metainfo(
        dict(from_file=layout_metainfo_file('h36m16')))
    coco = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/coco.py'))
    coco_names = coco['keypoint_id2name']
    for i in range(16):
        name = ours['keypoint_id2name'][i]
        src = COCO17_TO_H36M16[i]
        got = tuple(coco_names[j] for j in src) if isinstance(
            src, tuple) else coco_names[src]
        assert got == STAND_IN.get(name, name), name
    # Left-right flips agree through the mapping (pairs flip onto
    # themselves: the midpoint of a left-right pair is central).
    to_ours = {s: i for i, s in enumerate(COCO17_TO_H36M16)}
    for i, src in enumerate(COCO17_TO_H36M16):
        if isinstance(src, tuple):
            assert coco['flip_indices'][src[0]] == src[1]
            assert ours['flip_indices'][i] == i
        else:
            flipped = to_ours.get(coco['flip_indices'][src], i)
            assert ours['flip_indices'][i] == flipped


def _mid(kp, a, b):
    return (kp[..., a, :2] + kp[..., b, :2]) / 2


def test_coco17_to_h36m16_on_real_2d(mediapipe):
    out = convert_keypoints(mediapipe, 'coco17', 'h36m16')
    assert out.shape == (100, 4, 16, 3)
    np.testing.assert_allclose(out[..., ROOT, :2],
                               _mid(mediapipe, L_HIP, R_HIP), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(out[..., THORAX, :2],
                               _mid(mediapipe, L_SHO, R_SHO), atol=1e-12)
    np.testing.assert_allclose(out[..., HEAD, :2],
                               _mid(mediapipe, L_EYE, R_EYE), atol=1e-12)
    np.testing.assert_array_equal(out[..., NECK, :], mediapipe[..., NOSE, :])
    # Copied joints keep coordinates and confidence.
    np.testing.assert_array_equal(out[..., R_KNEE, :], mediapipe[..., 14, :])
    np.testing.assert_array_equal(out[..., L_SHO16, :], mediapipe[...,
                                                                  L_SHO, :])
    np.testing.assert_array_equal(out[..., R_WRIST, :], mediapipe[..., 10, :])
    # Synthesized joints: the lowest confidence of the sources, which is
    # not MMPose KeypointConverter's product of them.
    low = np.minimum(mediapipe[..., L_HIP, 2], mediapipe[..., R_HIP, 2])
    np.testing.assert_array_equal(out[..., ROOT, 2], low)
    eyes = mediapipe[..., [L_EYE, R_EYE], 2]
    np.testing.assert_array_equal(out[..., HEAD, 2], eyes.min(-1))
    assert (eyes.prod(-1) < eyes.min(-1)).any()


def test_nan_source_gives_nan_joint_with_zero_confidence(mediapipe):
    kp = mediapipe[:3].copy()
    kp[0, 1, R_HIP, :2] = np.nan  # no coordinates
    kp[1, 2, L_SHO, 2] = np.nan  # no confidence
    out = convert_keypoints(kp)
    assert np.isnan(out[0, 1, ROOT, :2]).all() and out[0, 1, ROOT, 2] == 0
    assert np.isnan(out[0, 1, 1, :2]).all() and out[0, 1, 1, 2] == 0
    assert np.isnan(out[1, 2, THORAX, :2]).all()
    assert out[1, 2, THORAX, 2] == 0 and out[1, 2, L_SHO16, 2] == 0
    # Joints of other sources are untouched.
    np.testing.assert_array_equal(out[0, 1, THORAX],
                                  convert_keypoints(mediapipe[:1])[0, 1,
                                                                   THORAX])
    assert np.isfinite(out[0, 0]).all() and np.isfinite(out[2]).all()


def test_pipeline_converter_config_matches(mediapipe):
    """The ready-made KeypointConverter config (for MMPose pipelines on
    COCO data) gives the same coordinates."""
    converter = TRANSFORMS.build(COCO17_TO_H36M16_CONVERTER)
    sample = mediapipe[5, 2]
    results = converter(dict(keypoints=sample[None, :, :2].copy(),
                             keypoints_visible=np.ones((1, 17))))
    np.testing.assert_allclose(results['keypoints'][0],
                               convert_keypoints(sample)[:, :2], atol=1e-12)
    assert keypoint_converter_mapping(COCO17_TO_H36M16)[0] == ((11, 12), 0)
    assert keypoint_converter_mapping((3, 1)) == [(3, 0), (1, 1)]


def test_other_layouts_and_errors(mediapipe):
    h36m17 = np.random.default_rng(0).random((2, 17, 3))
    np.testing.assert_array_equal(convert_keypoints(h36m17, 'h36m17'),
                                  h36m17[:, list(H36M17_TO_16)])
    mpii = np.random.default_rng(1).random((16, 3))
    np.testing.assert_array_equal(convert_keypoints(mpii, 'mpii16'),
                                  mpii[list(MPII_TO_H36M16)])
    same = convert_keypoints(mediapipe[0], 'coco17', 'coco17')
    np.testing.assert_array_equal(same, mediapipe[0])
    with pytest.raises(ValueError, match=r'\(\.\.\., 17, 3\)'):
        convert_keypoints(mediapipe[..., :16, :])
    with pytest.raises(ValueError, match="unknown keypoint layout 'body25'"):
        convert_keypoints(mediapipe, 'body25')
    with pytest.raises(ValueError, match='no conversion from h36m16'):
        convert_keypoints(mediapipe[..., :16, :], 'h36m16', 'coco17')
