"""The published MPII pre-training config maps joints and flips correctly."""
import copy

import numpy as np
from mmengine.config import Config
from mmpose.registry import DATASETS

from mmpose_epipolar.datasets import MPII_TO_H36M16

CONFIG = ('configs/body_3d_keypoint/pose_resnet/mpii/'
          'td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py')


def _dataset(cfg, mpii_sample, pipeline):
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset.update(
        data_root=str(mpii_sample),
        ann_file='test_mpii.json',
        data_prefix=dict(img=''),
        pipeline=pipeline)
    return DATASETS.build(dataset)


def test_config_pipeline_converts_then_flips_with_h36m16_pairs(
        repo_root, mpii_sample):
    cfg = Config.fromfile(str(repo_root / CONFIG))
    assert [t['type'] for t in cfg.train_pipeline[:2]] == [
        'LoadImageOrSkip', 'KeypointConverter'
    ]
    convert = cfg.train_pipeline[1]
    raw = _dataset(cfg, mpii_sample, [])
    plain = _dataset(cfg, mpii_sample, [convert])
    flipped = _dataset(cfg, mpii_sample, [
        dict(type='LoadImage'), convert,
        dict(type='RandomFlip', prob=1.0, direction='horizontal')
    ])
    for i in range(len(raw)):
        mpii = raw[i]['keypoints'][0]
        ours = plain[i]['keypoints'][0]
        np.testing.assert_allclose(ours, mpii[list(MPII_TO_H36M16)])
        sample = flipped[i]
        width = sample['img'].shape[1]
        flip_indices = list(sample["flip_indices"])
        expected = ours[flip_indices].copy()
        expected[:, 0] = width - 1 - expected[:, 0]
        np.testing.assert_allclose(sample['keypoints'][0], expected)
        # The left wrist of the flipped image is the mirrored right wrist.
        np.testing.assert_allclose(sample['keypoints'][0, 12, 0],
                                   width - 1 - mpii[10, 0])
