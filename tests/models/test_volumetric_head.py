import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

from mmpose_epipolar.codecs import VolumetricIntegralLabel
from mmpose_epipolar.models import MaskedSmoothL1Loss, flip_back_coords
from mmpose_epipolar.models.utils import (
    gaussian_depth_marginals,
    gaussian_heatmaps,
)

BASE_MODEL = 'configs/_base_/models/pose-resnet_cbam-res50-wasp.py'


def small_model_cfg(repo_root, input_size=(128, 128), depth_bins=16):
    """The published Pose ResNet model at a CPU-friendly size."""
    cfg = Config.fromfile(str(repo_root / BASE_MODEL))
    model = cfg.model
    model.backbone.init_cfg = None
    codec = dict(type='VolumetricIntegralLabel', input_size=input_size)
    model.head.decoder = codec
    model.head.depth_bins = depth_bins
    return model, codec


def make_samples(codec_cfg, keypoints, bbox_scale, flip_indices):
    codec = VolumetricIntegralLabel(**{
        k: v
        for k, v in codec_cfg.items() if k != 'type'
    })
    samples = []
    for kpt, scale in zip(keypoints, bbox_scale):
        enc = codec.encode(kpt[None], bbox_scale=scale[None])
        sample = PoseDataSample(
            metainfo=dict(
                input_size=codec.input_size,
                input_center=np.array([64.0, 64.0]),
                input_scale=np.asarray(scale),
                flip_indices=flip_indices))
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.from_numpy(enc['keypoint_labels']),
            keypoint_weights=torch.from_numpy(enc['keypoint_weights']))
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, 128, 128]], np.float32),
            bbox_scores=np.ones(1, np.float32))
        samples.append(sample)
    return samples


def test_flip_back_matches_mmpose_flip_convention():
    width = 256
    flip_indices = [0, 2, 1]
    x = np.array([10.0, 100.0, 200.0])
    coords = torch.tensor([[[x[0] / width - 0.5, 0.1, 0.2],
                            [x[1] / width - 0.5, -0.1, 0.3],
                            [x[2] / width - 0.5, 0.0, -0.4]]])
    # What the network would see on the flipped crop: column w - 1 - x and
    # the left/right joints swapped (mmpose.structures.flip_keypoints).
    flipped_x = (width - 1 - x)[flip_indices]
    flipped = coords[:, flip_indices].clone()
    flipped[..., 0] = torch.tensor(flipped_x / width - 0.5)
    torch.testing.assert_close(
        flip_back_coords(flipped, flip_indices, width), coords)


def test_loss_masks_invalid_targets_without_nan():
    loss = MaskedSmoothL1Loss(beta=0.01)
    pred = torch.zeros(2, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), float('nan'))
    weight = torch.zeros(2, 3, 3)
    value = loss(pred, target, weight)
    value.backward()
    assert value.item() == 0.0 and torch.all(pred.grad == 0)

    target[0, 0] = torch.tensor([0.1, -0.2, 0.3])
    weight[0, 0] = torch.tensor([1.0, 1.0, 0.0])
    value = loss(pred, target, weight)
    # Mean over the two active entries of |d| - beta / 2.
    expected = ((0.1 - 0.005) + (0.2 - 0.005)) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)
    # Per-joint weights of shape (B, K) broadcast over the axes.
    assert torch.isfinite(loss(pred, target, weight[..., 0])).all()


def test_network_overfits_one_batch(repo_root):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model_cfg, codec_cfg = small_model_cfg(repo_root)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    inputs = torch.rand(2, 3, 128, 128) * 255
    keypoints = np.concatenate(
        [rng.uniform(20, 108, (2, 16, 2)),
         rng.uniform(-60, 60, (2, 16, 1))], axis=-1)
    keypoints[:, 0, 2] = 0.0
    samples = make_samples(codec_cfg, keypoints,
                           np.full((2, 2), 256.0), list(range(16)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = dict(inputs=inputs, data_samples=samples)
    losses = []
    for _ in range(30):
        batch = model.data_preprocessor(data, training=True)
        loss = model(**batch, mode='loss')['loss_kpt']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses

    # Prediction runs through the estimator: 2D image pixels, depth, 3D.
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(data, training=False)
        results = model(**batch, mode='predict')
    pred = results[0].pred_instances
    assert pred.keypoints.shape == (1, 16, 2)
    assert pred.keypoints_depth.shape == (1, 16)
    assert pred.keypoints_3d.shape == (1, 16, 3)
    assert pred.keypoint_scores.shape == (1, 16)
    assert results[0].pred_instances.metainfo['keypoints_3d_unit'] == \
        'image_px_root_relative'


def test_heatmap_loss_is_zero_at_the_target_and_masks_bad_labels():
    """DSNT's regulariser: JS divergence to a Gaussian at each label,
    averaged over the joints that have a finite, weighted 2D label."""
    head = MODELS.build(
        dict(type='VolumetricHeatmapHead', in_channels=8, num_keypoints=3,
             depth_bins=4, deconv_out_channels=(8, ),
             deconv_kernel_sizes=(4, ),
             heatmap_loss=dict(type='JSDiscretLoss', use_target_weight=True),
             heatmap_sigma=1.0, heatmap_loss_weight=2.0))
    labels = torch.tensor([[[0.1, -0.2, 0.0], [0.3, 0.25, 0.1],
                            [-0.2, 0.0, 0.0]]])
    weights = torch.ones(1, 3, 3)
    exact = gaussian_heatmaps(labels, (24, 24), 1.0)
    uniform = torch.full_like(exact, 1.0 / 576)
    coords = labels.clone()
    assert head.loss_from_coords(coords, labels, weights,
                                 exact)['loss_heatmap'] < 1e-6
    far = head.loss_from_coords(coords, labels, weights,
                                uniform)['loss_heatmap']
    # Uniform vs a sigma-1 Gaussian on 24 x 24: JS close to its ln 2 bound,
    # times the weight 2.
    assert 0.9 < far.item() < 2 * np.log(2)

    # A NaN label and a zero-weight joint drop out: the mean is over the
    # remaining joint only, and no NaN reaches the loss.
    labels[0, 0, 0] = float('nan')
    weights[0, 1] = 0.0
    uniform.requires_grad_(True)
    one = head.loss_from_coords(coords, labels, weights, uniform)
    assert torch.isfinite(one['loss_heatmap'])
    torch.testing.assert_close(one['loss_heatmap'], far, rtol=0.05, atol=0)
    one['loss_heatmap'].backward()
    assert torch.isfinite(uniform.grad).all()
    assert uniform.grad[0, :2].abs().max() == 0
    # An underflowed softmax (exact zeros) still gives a finite gradient.
    peaked = torch.zeros_like(uniform)
    peaked[0, 2, 10, 10] = 1.0
    peaked.requires_grad_(True)
    head.loss_from_coords(coords, labels, weights,
                          peaked)['loss_heatmap'].backward()
    assert torch.isfinite(peaked.grad).all()
    none = head.loss_from_coords(coords, labels, torch.zeros_like(weights),
                                 uniform)
    assert none['loss_heatmap'].item() == 0.0
    # Depth marginals join where the label has depth (weight > 0).
    weights = torch.ones(1, 3, 3)
    labels[0, 0, 0] = 0.1
    exact_depth = gaussian_depth_marginals(labels[..., 2], 4, 1.0)
    flat_depth = torch.full_like(exact_depth, 0.25)
    with_exact = head.loss_from_coords(coords, labels, weights, exact,
                                       exact_depth)['loss_heatmap']
    with_flat = head.loss_from_coords(coords, labels, weights, exact,
                                      flat_depth)['loss_heatmap']
    assert with_exact < 1e-6 < with_flat
    weights[..., 2] = 0.0
    assert head.loss_from_coords(coords, labels, weights, exact,
                                 flat_depth)['loss_heatmap'] < 1e-6
    # Without a heatmap loss (the paper's), only the coordinate loss.
    assert 'loss_heatmap' not in MODELS.build(
        dict(type='VolumetricHeatmapHead', in_channels=8, num_keypoints=3,
             depth_bins=4, deconv_out_channels=(8, ),
             deconv_kernel_sizes=(4, ))).loss_from_coords(
                 coords, labels, weights, exact)


def test_3d_head_loads_a_2d_head_into_every_depth_bin():
    """A 2D pre-training (depth_bins=1) transfers whole: the 3D head
    predicts the 2D head's (x, y) and heatmaps, at the middle depth, and
    trains from there; other depth resolutions still fail the shape
    check."""
    from mmengine.runner.checkpoint import load_state_dict

    def head(depth_bins):
        torch.manual_seed(depth_bins)
        return MODELS.build(dict(
            type='VolumetricHeatmapHead', in_channels=32, num_keypoints=5,
            depth_bins=depth_bins, deconv_out_channels=(16, ),
            deconv_kernel_sizes=(4, ))).eval()

    head_2d, head_3d = head(1), head(8)
    feats = (torch.randn(2, 32, 6, 6), )
    before, _ = head_3d(feats)
    load_state_dict(head_3d, head_2d.state_dict(), strict=True)
    coords_2d, heatmaps_2d = head_2d(feats)
    coords_3d, heatmaps_3d = head_3d(feats)
    assert not torch.allclose(before[..., :2], coords_2d[..., :2])
    torch.testing.assert_close(coords_3d[..., :2], coords_2d[..., :2])
    torch.testing.assert_close(heatmaps_3d, heatmaps_2d)
    torch.testing.assert_close(coords_3d[..., 2], torch.zeros(2, 5),
                               atol=1e-6, rtol=0)
    with pytest.raises(RuntimeError, match='size mismatch'):
        load_state_dict(head(6), head(4).state_dict(), strict=True)
