# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Mixed-precision training in bfloat16 on any device, the CPU included."""
import logging
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn

from ...utils import cpu_has_native_bf16


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

    On a CPU without native bfloat16 kernels (no AVX-512 BF16 or AMX)
    PyTorch emulates them, far slower than float32; the first forward pass
    there logs a warning (train in float32 there: ``OptimWrapper``).

    Config: ``optim_wrapper = dict(type='BF16OptimWrapper', optimizer=...)``.
    """

    _checked_cpu = False

    @contextmanager
    def optim_context(self, model: nn.Module):
        device_type = _device_type(model)
        if device_type == 'cpu' and not self._checked_cpu:
            self._checked_cpu = True
            if not cpu_has_native_bf16():
                print_log(
                    'BF16OptimWrapper: this CPU has no native bfloat16 '
                    'kernels (AVX-512 BF16 or AMX); emulated bfloat16 is '
                    'many times slower than float32 here: use OptimWrapper',
                    logger='current', level=logging.WARNING)
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=torch.bfloat16):
            yield


def _device_type(model: nn.Module) -> str:
    param = next(model.parameters(), None)
    return 'cpu' if param is None else param.device.type
