"""BF16OptimWrapper: bfloat16 forward passes on the CPU that train like
float32."""
import logging
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import OPTIM_WRAPPERS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks'))
CONFIG = str(ROOT / 'configs/body_3d_keypoint/pose_resnet/synthetic/'
             'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')


def train(wrapper_type, steps=10):
    """Losses of ``steps`` train_step calls on one batch, and the dtype a
    convolution produced inside the wrapper's context."""
    from train_step import build, make_batch
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model, codec = build(CONFIG, 96, cfg.model.head.depth_bins)
    model.train()
    data = make_batch(codec, 8, 96, 16, 'cpu')
    wrapper = OPTIM_WRAPPERS.build(dict(
        type=wrapper_type, optimizer=torch.optim.Adam(model.parameters(),
                                                      lr=1e-3)))
    dtypes = []
    hook = model.backbone.conv1.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    losses = [float(model.train_step(data, wrapper)['loss'])
              for _ in range(steps)]
    hook.remove()
    return losses, dtypes[0]


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(),
                    reason='no oneDNN')
def test_bf16_forward_trains_like_fp32():
    fp32, fp32_dtype = train('OptimWrapper')
    bf16, bf16_dtype = train('BF16OptimWrapper')
    assert fp32_dtype == torch.float32 and bf16_dtype == torch.bfloat16
    assert all(torch.isfinite(torch.tensor(bf16)))
    # Both fall from the same start; bf16 stays within 5% of fp32.
    assert bf16[-1] < 0.98 * bf16[0] and fp32[-1] < 0.98 * fp32[0]
    assert abs(bf16[-1] - fp32[-1]) < 0.05 * fp32[-1]


@pytest.mark.parametrize('native', [False, True])
def test_bf16_on_a_cpu_without_native_kernels_warns(monkeypatch, native):
    from mmengine.logging import MMLogger

    from mmpose_epipolar.engine.optimizers import bf16_optim_wrapper
    monkeypatch.setattr(bf16_optim_wrapper, 'cpu_has_native_bf16',
                        lambda: native)
    model = torch.nn.Linear(4, 2)
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='BF16OptimWrapper',
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3)))
    logger = MMLogger.get_current_instance()
    warnings = []
    monkeypatch.setattr(
        logger, 'log', lambda level, msg, *args, **kwargs: warnings.append(
            msg) if level >= logging.WARNING else None)
    for _ in range(2):
        with wrapper.optim_context(model):
            out = model(torch.ones(1, 4))
    assert out.dtype == torch.bfloat16
    if native:
        assert warnings == []
    else:
        assert len(warnings) == 1 and 'OptimWrapper' in warnings[0]
