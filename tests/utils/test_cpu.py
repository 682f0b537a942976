# Copyright (c) mmpose-epipolar contributors. All rights reserved.
import os

import pytest
import torch

from mmpose_epipolar.utils import (
    cpu_bf16_kernels,
    cpu_has_native_bf16,
    cpu_summary,
    describe_cpu,
    onednn_isa_cap,
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


@pytest.mark.parametrize('cap,kernels', [
    ('AVX512_CORE_AMX', 'AMX'), ('avx512_core_amx_fp16', 'AMX'),
    ('AVX512_CORE_BF16', 'AVX-512 BF16'), ('AVX512_CORE_FP16', 'AVX-512 BF16'),
    ('AVX512_CORE_VNNI', 'none'), ('AVX2', 'none'), ('ALL', 'AMX')])
def test_onednn_isa_cap_lowers_the_kernels_reported(monkeypatch, cap,
                                                    kernels):
    # An AMX CPU (which has AVX-512 BF16 too) under each cap.
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: True,
                        raising=False)
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported',
                        lambda: True, raising=False)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', cap)
    assert cpu_bf16_kernels() == kernels
    cpu = describe_cpu()
    capped = None if cap == 'ALL' else cap.upper()
    assert cpu['onednn_isa_cap'] == capped
    assert ('oneDNN capped at' in cpu_summary(cpu)) == (capped is not None)


def test_onednn_isa_cap_reads_the_older_name_and_refuses_typos(monkeypatch):
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
    assert onednn_isa_cap() is None
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'avx2')
    assert onednn_isa_cap() == 'AVX2'
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX512_BF16')
    with pytest.raises(ValueError, match='ONEDNN_MAX_CPU_ISA.*AVX512_BF16'):
        onednn_isa_cap()


@pytest.mark.skipif(not torch.cpu._is_amx_tile_supported(),
                    reason='needs a CPU with AMX')
def test_the_cap_takes_amx_away_from_onednn():
    # The cap must reach oneDNN itself, which reads it once per process.
    import subprocess
    import sys
    code = ('import torch, time\n'
            'x = torch.randn(64, 256, 28, 28).bfloat16()\n'
            'w = torch.randn(256, 256, 3, 3).bfloat16()\n'
            'with torch.backends.mkldnn.verbose(1):\n'
            '    torch.nn.functional.conv2d(x, w, padding=1)\n')
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA='AVX512_CORE_BF16')
    capped = subprocess.run([sys.executable, '-c', code], env=env,
                            capture_output=True, text=True, check=True)
    assert 'amx' not in capped.stdout.lower()
    assert 'avx512_core_bf16' in capped.stdout.lower()
