# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""What the CPU can run fast."""
import torch


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has native bfloat16 kernels on this CPU (AVX-512 BF16
    or AMX).

    Elsewhere PyTorch emulates bfloat16 and it is far slower than float32:
    on a 2-core AMD EPYC with AVX2 only (2026-12-02) a bfloat16 3 x 3
    convolution of (16, 64, 48, 48) took 1.15-1.22 s against 0.03-0.04 s in
    float32.
    """
    cpu = getattr(torch, 'cpu', None)
    checks = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
