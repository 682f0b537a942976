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
    return cpu_bf16_kernels() != 'none'


def cpu_model_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()``
    where there is none, as on macOS and Windows)."""
    import platform
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown CPU'


def cpu_bf16_kernels() -> str:
    """Which native bfloat16 kernels oneDNN can use here: ``'AMX'`` (tile
    matrix units, as on Intel Xeon Sapphire Rapids and later),
    ``'AVX-512 BF16'`` (vector dot products, as on AMD EPYC Zen 4) or
    ``'none'`` (emulated; see :func:`cpu_has_native_bf16`).

    The quick start's time depends on it: its committed recipe took 8.8
    min end to end with AMX and 13.3-14.5 with AVX-512 BF16 alone (2
    cores each, 2026-12-03).
    """
    cpu = getattr(torch, 'cpu', None)
    for kernels, check in (('AMX', '_is_amx_tile_supported'),
                           ('AVX-512 BF16', '_is_avx512_bf16_supported')):
        if bool(getattr(cpu, check, lambda: False)()):
            return kernels
    return 'none'


def describe_cpu() -> dict:
    """The CPU facts a timing depends on: ``model`` (its name),
    ``capability`` (the vector instructions of PyTorch's own kernels:
    ``'AVX2'``, ``'AVX512'``, ...), ``bf16_kernels``
    (:func:`cpu_bf16_kernels`) and ``cores`` (``os.cpu_count()``)."""
    import os
    return dict(model=cpu_model_name(),
                capability=torch.backends.cpu.get_cpu_capability(),
                bf16_kernels=cpu_bf16_kernels(),
                cores=os.cpu_count())


def cpu_summary(cpu: dict) -> str:
    """One line of :func:`describe_cpu`'s facts, as the quick start and
    its profile print them."""
    return (f'{cpu["model"]}, {cpu["cores"]} cores, kernels '
            f'{cpu["capability"]}, native bfloat16: {cpu["bf16_kernels"]}')
