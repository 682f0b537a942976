import pytest
import torch
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmpose.models.backbones import ResNet

from mmpose_epipolar.models import CBAM, WASP, CBAMResNet


def test_cbam_shape_gradient_and_gating_range():
    torch.manual_seed(0)
    block = CBAM(32, reduction=16)
    x = torch.randn(2, 32, 9, 7, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    # Both gates are sigmoids in (0, 1): the output never exceeds |x|.
    assert torch.all(y.abs() <= x.abs() + 1e-6)
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, param in block.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize('depth,channels', [(18, 512), (50, 2048)])
def test_cbam_resnet_output_shapes(depth, channels):
    model = CBAMResNet(depth=depth, out_indices=(2, 3))
    model.eval()
    with torch.no_grad():
        c4, c5 = model(torch.rand(1, 3, 128, 96))
    assert c4.shape == (1, channels // 2, 8, 6)
    assert c5.shape == (1, channels, 4, 3)
    assert hasattr(model, 'cbam_before_layer1')
    assert hasattr(model, 'cbam_after_layer4')


def test_empty_cbam_positions_is_a_plain_resnet():
    torch.manual_seed(0)
    plain = ResNet(depth=18)
    ours = CBAMResNet(depth=18, cbam_positions=())
    ours.load_state_dict(plain.state_dict(), strict=True)
    # MMPose's ResNet.train() returns None, so no chaining.
    plain.eval()
    ours.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[-1], plain(x)[-1])
    with pytest.raises(ValueError, match='cbam_positions'):
        CBAMResNet(depth=18, cbam_positions=('after_layer2', ))


@pytest.mark.parametrize('frozen_stages', [0, 1, 2])
def test_frozen_stages_include_the_entry_cbam(frozen_stages):
    """Frozen stages get no gradient and keep their BN statistics in
    train(); the CBAM before layer1 freezes with layer1."""
    torch.manual_seed(0)
    model = CBAMResNet(depth=18, frozen_stages=frozen_stages)
    model.train()
    frozen = ['conv1.', 'bn1.'] + \
        (['cbam_before_layer1.'] if frozen_stages >= 1 else []) + \
        [f'layer{i}.' for i in range(1, frozen_stages + 1)]
    running = model.layer1[0].bn1.running_mean.clone()
    model(torch.rand(2, 3, 64, 64))[-1].sum().backward()
    for name, param in model.named_parameters():
        is_frozen = name.startswith(tuple(frozen))
        assert param.requires_grad is not is_frozen, name
        assert (param.grad is None) is is_frozen, name
    assert torch.equal(model.layer1[0].bn1.running_mean,
                       running) is (frozen_stages >= 1)
    if frozen_stages >= 1:
        assert not model.cbam_before_layer1.training


def test_plain_resnet50_checkpoint_leaves_only_cbam_keys_missing():
    state = ResNet(depth=50).state_dict()
    model = CBAMResNet(depth=50)
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys
    assert all(k.startswith(('cbam_before_layer1.', 'cbam_after_layer4.'))
               for k in result.missing_keys)
    # The same through MMEngine's loader, which init_cfg=Pretrained uses.
    _load_checkpoint_to_model(model, dict(state_dict=state), strict=False)
    torch.testing.assert_close(model.conv1.weight, state['conv1.weight'])


def test_wasp_preserves_size_and_is_a_waterfall():
    torch.manual_seed(0)
    neck = WASP(in_channels=64, out_channels=48, branch_channels=16,
                dilations=(1, 2, 3, 4), dropout=0.1)
    x = torch.randn(2, 64, 8, 8, requires_grad=True)
    (out, ) = neck((x, ))
    assert out.shape == (2, 48, 8, 8)
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # Cascade: each atrous branch consumes the previous branch's output.
    assert neck.waterfall[0].conv.in_channels == 64
    assert all(b.conv.in_channels == 16 for b in neck.waterfall[1:])
    assert [b.conv.dilation[0] for b in neck.waterfall] == [1, 2, 3, 4]
    # Other levels of a multi-level input pass through unchanged.
    skip = torch.randn(2, 8, 16, 16)
    assert neck((skip, x))[0] is skip


def test_wasp_resnet50_at_256_gives_2048x8x8_and_batch_of_one_trains():
    backbone = CBAMResNet(depth=50)
    neck = WASP()
    (out, ) = neck(backbone(torch.rand(1, 3, 256, 256)))
    assert out.shape == (1, 2048, 8, 8)
    with pytest.raises(ValueError, match='dilation'):
        WASP(dilations=())
