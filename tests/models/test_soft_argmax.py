import pytest
import torch

from mmpose_epipolar.models.utils import (
    gaussian_depth_marginals,
    gaussian_heatmaps,
    peak_mass,
    soft_argmax_3d,
)


@pytest.mark.parametrize('shape', [(8, 16, 16), (16, 32, 24)])
def test_sharp_peak_decodes_to_its_voxel(shape):
    depth, height, width = shape
    torch.manual_seed(0)
    peaks = [(1, 2, 3), (depth - 1, height - 1, 0), (depth // 2, 5, width - 2)]
    volume = torch.full((1, len(peaks), depth, height, width), -1e4)
    for j, (d, h, w) in enumerate(peaks):
        volume[0, j, d, h, w] = 0.0
    coords, heatmap = soft_argmax_3d(volume)
    expected = torch.tensor([[w / width - 0.5, h / height - 0.5,
                              (d + 0.5) / depth - 0.5]
                             for d, h, w in peaks])
    assert coords.shape == (1, len(peaks), 3)
    assert heatmap.shape == (1, len(peaks), height, width)
    # "to 1e-3 of the range": every axis spans 1 in normalised units.
    torch.testing.assert_close(coords[0], expected, atol=1e-3, rtol=0)
    torch.testing.assert_close(
        heatmap.sum(dim=(-1, -2)), torch.ones(1, len(peaks)))
    assert torch.allclose(peak_mass(heatmap), torch.ones(1, len(peaks)))


def test_uniform_volume_decodes_to_centre_and_beta_sharpens():
    volume = torch.zeros(2, 3, 8, 8, 8)
    coords, _ = soft_argmax_3d(volume)
    # Centre of the bins: x, y at (W - 1) / 2 / W - 0.5, z exactly 0.
    torch.testing.assert_close(coords[..., 0], torch.full((2, 3), -1 / 16))
    torch.testing.assert_close(coords[..., 2], torch.zeros(2, 3))

    volume[:, :, 2, 3, 4] = 1.0
    soft, _ = soft_argmax_3d(volume, beta=1.0)
    sharp, _ = soft_argmax_3d(volume, beta=20.0)
    target = torch.tensor([4 / 8 - 0.5, 3 / 8 - 0.5, 2.5 / 8 - 0.5])
    assert (sharp - target).abs().max() < (soft - target).abs().max()
    assert (sharp - target).abs().max() < 1e-3


def test_gradient_flows_to_every_voxel_and_rejects_bad_shape():
    volume = torch.randn(1, 2, 4, 6, 5, requires_grad=True)
    coords, _ = soft_argmax_3d(volume)
    coords.sum().backward()
    assert torch.isfinite(volume.grad).all()
    assert (volume.grad != 0).float().mean() > 0.9
    with pytest.raises(ValueError, match=r'\(B, J, D, H, W\)'):
        soft_argmax_3d(torch.zeros(2, 3, 4, 4))


def test_backward_keeps_one_copy_of_the_volume():
    """Memory: autograd must save the softmax output once, not per axis."""
    shape = (2, 4, 16, 16, 16)
    volume_numel = torch.Size(shape).numel()
    saved = []

    def pack(tensor):
        saved.append(tensor.numel())
        return tensor

    volume = torch.randn(*shape, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        coords, _ = soft_argmax_3d(volume, beta=2.0)
    volume_sized = sum(n for n in saved if n >= volume_numel)
    assert volume_sized == volume_numel


def test_gaussian_heatmaps_invert_the_soft_argmax():
    """A Gaussian target away from the border decodes to its centre."""
    coords = torch.tensor([[[0.1, -0.2], [-0.25, 0.15], [0.0, 0.0]]])
    heatmaps = gaussian_heatmaps(coords, (24, 20), sigma=1.5)
    assert heatmaps.shape == (1, 3, 20, 24)
    torch.testing.assert_close(heatmaps.sum(dim=(-1, -2)), torch.ones(1, 3))
    volume = heatmaps.log()[:, :, None].expand(1, 3, 4, 20, 24)
    decoded, marginal = soft_argmax_3d(volume.contiguous())
    torch.testing.assert_close(decoded[..., :2], coords, atol=1e-5, rtol=0)
    torch.testing.assert_close(marginal, heatmaps, atol=1e-6, rtol=0)
    depth = torch.tensor([[-0.2, 0.0, 0.3]])
    volume = gaussian_depth_marginals(depth, 16, 1.0).log()[
        ..., None, None].expand(1, 3, 16, 5, 5)
    decoded, _, marginal = soft_argmax_3d(
        volume.contiguous(), depth_marginal=True)
    torch.testing.assert_close(decoded[..., 2], depth, atol=1e-3, rtol=0)
    torch.testing.assert_close(
        marginal, gaussian_depth_marginals(depth, 16, 1.0))
    # The three columns around the centre span +-1 sigma (1.5 bins):
    # about 68% of the mass.
    row = heatmaps[0, 2].sum(dim=0)
    centre = int((0.0 + 0.5) * 24)
    assert row[centre - 1:centre + 2].sum() > 0.5
