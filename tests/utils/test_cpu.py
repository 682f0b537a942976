# Copyright (c) mmpose-epipolar contributors. All rights reserved.
import os

import pytest
import torch

from mmpose_epipolar.utils import (
    cpu_bf16_kernels,
    cpu_has_native_bf16,
    describe_cpu,
)


@pytest.mark.parametrize('amx,avx512_bf16,kernels', [
    (True, True, 'AMX'), (True, False, 'AMX'),
    (False, True, 'AVX-512 BF16'), (False, False, 'none')])
def test_bf16_kernels_name_the_best_unit(monkeypatch, amx, avx512_bf16,
                                         kernels):
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: amx,
                        raising=False)
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported',
                        lambda: avx512_bf16, raising=False)
    assert cpu_bf16_kernels() == kernels
    assert cpu_has_native_bf16() == (kernels != 'none')


def test_describe_cpu_reads_this_machine():
    cpu = describe_cpu()
    assert cpu['cores'] == os.cpu_count()
    assert cpu['capability'] == torch.backends.cpu.get_cpu_capability()
    assert cpu['bf16_kernels'] == cpu_bf16_kernels()
    if os.path.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        if names:
            assert cpu['model'] == names[0]
