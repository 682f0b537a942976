"""MPII 2D pre-training in our 16-joint layout: MMPose's ``MpiiDataset`` +
``KeypointConverter`` (inside a ``CombinedDataset`` carrying the H36M-16
metainfo, so flips use our joint pairs)."""
import json
import os.path as osp

import numpy as np
import pytest
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS

from mmpose_epipolar.datasets import MPII_TO_H36M16, MPII_TO_H36M16_CONVERTER
from mmpose_epipolar.datasets.joint_layouts import layout_metainfo_file

H36M16_META = layout_metainfo_file('h36m16')
# H36M-16 name -> the MPII joint that stands in for it
SAME_JOINT = {
    'root': 'pelvis', 'right_foot': 'right_ankle', 'left_foot': 'left_ankle',
    'neck_base': 'upper_neck', 'head': 'head_top'
}


@pytest.fixture
def mpii_root(mpii_sample):
    return str(mpii_sample)


def _mpii(root, pipeline):
    return dict(
        type='MpiiDataset',
        data_root=root,
        ann_file='test_mpii.json',
        data_prefix=dict(img=''),
        pipeline=pipeline)


def test_mapping_matches_joint_names():
    ours = parse_pose_metainfo(dict(from_file=H36M16_META))
    mpii = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/mpii.py'))
    ours_names = [ours['keypoint_id2name'][i] for i in range(16)]
    mpii_names = [mpii['keypoint_id2name'][i] for i in range(16)]
    for i, name in enumerate(ours_names):
        assert mpii_names[MPII_TO_H36M16[i]] == SAME_JOINT.get(name, name)
    # flip pairs agree through the mapping
    to_ours = {m: i for i, m in enumerate(MPII_TO_H36M16)}
    mapped = [to_ours[mpii['flip_indices'][m]] for m in MPII_TO_H36M16]
    assert mapped == ours['flip_indices']
    assert sorted(MPII_TO_H36M16) == list(range(16))


def test_mpii_converted_to_h36m16(mpii_root):
    raw = json.load(open(osp.join(mpii_root, 'test_mpii.json')))
    ds = DATASETS.build(
        dict(
            type='CombinedDataset',
            metainfo=dict(from_file=H36M16_META),
            datasets=[_mpii(mpii_root, [MPII_TO_H36M16_CONVERTER])],
            pipeline=[]))
    assert len(ds) == len(raw) == 5
    for i in range(len(ds)):
        d = ds[i]
        joints = np.array(raw[i]['joints'], dtype=np.float32)
        assert d['keypoints'].shape == (1, 16, 2)
        # pelvis
        np.testing.assert_array_equal(d['keypoints'][0, 0], joints[6])
        np.testing.assert_array_equal(d['keypoints'][0, 12],
                                      joints[15])  # l_wrist
        np.testing.assert_array_equal(d['keypoints'][0, 9],
                                      joints[9])  # head_top
        np.testing.assert_array_equal(d['keypoints'][0],
                                      joints[list(MPII_TO_H36M16)])
        np.testing.assert_array_equal(
            d['keypoints_visible'][0, :, 0],
            np.array(raw[i]['joints_vis'])[list(MPII_TO_H36M16)])
        assert d['flip_indices'] == ds.metainfo['flip_indices']
        assert 'keypoints_depth' not in d  # 2D only: the codec masks z


def test_flip_after_conversion_uses_our_pairs(mpii_root):
    """Flip-then-convert (MPII pairs) equals convert-then-flip (our pairs)."""
    common = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', prob=1.0),
        dict(type='TopdownAffine', input_size=(256, 256)),
    ]
    ours = DATASETS.build(
        dict(
            type='CombinedDataset',
            metainfo=dict(from_file=H36M16_META),
            datasets=[_mpii(mpii_root, [MPII_TO_H36M16_CONVERTER])],
            pipeline=common))
    mpii = DATASETS.build(_mpii(mpii_root, common))
    for i in range(len(mpii)):
        a = ours[i]
        b = mpii[i]
        assert a['flip'] and b['flip']
        np.testing.assert_allclose(
            a['transformed_keypoints'][0],
            b['transformed_keypoints'][0][list(MPII_TO_H36M16)],
            atol=1e-3)
        # a real flip happened: left and right wrists swapped sides
        assert not np.allclose(a['transformed_keypoints'][0, 12],
                               a['transformed_keypoints'][0, 15])
