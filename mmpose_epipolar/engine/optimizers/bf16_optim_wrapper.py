# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Mixed-precision training in bfloat16 on any device, the CPU included."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward passes run under
    ``torch.autocast(dtype=torch.bfloat16)`` on the model's device.

    MMEngine's ``AmpOptimWrapper`` refuses machines without CUDA (or NPU,
    MLU, MUSA), but oneDNN has bfloat16 kernels for CPUs with AVX-512 BF16.
    bfloat16 keeps float32's exponent range, so no loss scaling is needed.
    Only the forward pass (``optim_context``, as in ``AmpOptimWrapper``) is
    autocast; backward and the optimizer step run outside it on the
    float32 parameters (with the step inside, Adam's updates were lost:
    ``benchmarks/quickstart_step.py``).

    Config: ``optim_wrapper = dict(type='BF16OptimWrapper', optimizer=...)``.
    """

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast(
                device_type=_device_type(model), dtype=torch.bfloat16):
            yield


def _device_type(model: nn.Module) -> str:
    param = next(model.parameters(), None)
    return 'cpu' if param is None else param.device.type
