# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""What the CPU can run fast."""
import os
from typing import Optional

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


#: oneDNN's instruction-set levels in ascending order, as its
#: ``ONEDNN_MAX_CPU_ISA`` (formerly ``DNNL_MAX_CPU_ISA``) names them; a cap
#: keeps oneDNN to that level and the ones below it.
ONEDNN_ISA_LEVELS = ('SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2',
                     'AVX512_CORE', 'AVX512_CORE_VNNI', 'AVX512_CORE_BF16',
                     'AVX512_CORE_FP16', 'AVX512_CORE_AMX',
                     'AVX512_CORE_AMX_FP16')
#: The lowest level at which oneDNN runs each kind of native bfloat16
#: kernel.
_BF16_KERNEL_LEVELS = (('AMX', 'AVX512_CORE_AMX', '_is_amx_tile_supported'),
                       ('AVX-512 BF16', 'AVX512_CORE_BF16',
                        '_is_avx512_bf16_supported'))


def onednn_isa_cap() -> Optional[str]:
    """The instruction-set level oneDNN is capped at by the environment
    (``ONEDNN_MAX_CPU_ISA``, else ``DNNL_MAX_CPU_ISA``), or None without a
    cap (also for ``ALL`` and ``DEFAULT``).

    ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` on an AMX machine runs the
    AVX-512 BF16 kernels of a CPU without AMX (such as an AMD EPYC Zen 4):
    the quick start's bfloat16 training step took 0.151 s against 0.099
    with AMX on 2 Xeon cores (2026-12-04).

    Raises:
        ValueError: If the variable names no level of
            :data:`ONEDNN_ISA_LEVELS`.
    """
    for name in ('ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA'):
        value = os.environ.get(name, '').strip().upper()
        if not value:
            continue
        if value in ('ALL', 'DEFAULT'):
            return None
        if value not in ONEDNN_ISA_LEVELS:
            raise ValueError(
                f'{name}={os.environ[name]!r} is not a oneDNN instruction-'
                f'set level: expected ALL or one of {ONEDNN_ISA_LEVELS}')
        return value
    return None


def cpu_bf16_kernels() -> str:
    """Which native bfloat16 kernels oneDNN uses here: ``'AMX'`` (tile
    matrix units, as on Intel Xeon Sapphire Rapids and later),
    ``'AVX-512 BF16'`` (vector dot products, as on AMD EPYC Zen 4) or
    ``'none'`` (emulated; see :func:`cpu_has_native_bf16`): the best the
    CPU has and :func:`onednn_isa_cap` allows.

    The quick start's time depends on it: on 2 cores of an Intel Xeon
    (2026-12-04) it took 5.4-5.9 min with AMX and 7.6-8.1 with oneDNN
    capped at the AVX-512 BF16 kernels; its previous recipe took 8.8 min
    there with AMX and 13.3-14.5 on 2 cores of an AMD EPYC with AVX-512
    BF16 alone (2026-12-03).
    """
    cpu = getattr(torch, 'cpu', None)
    cap = onednn_isa_cap()
    allowed = len(ONEDNN_ISA_LEVELS) if cap is None else (
        ONEDNN_ISA_LEVELS.index(cap) + 1)
    for kernels, level, check in _BF16_KERNEL_LEVELS:
        if ONEDNN_ISA_LEVELS.index(level) < allowed and bool(
                getattr(cpu, check, lambda: False)()):
            return kernels
    return 'none'


def describe_cpu() -> dict:
    """The CPU facts a timing depends on: ``model`` (its name),
    ``capability`` (the vector instructions of PyTorch's own kernels:
    ``'AVX2'``, ``'AVX512'``, ...), ``bf16_kernels``
    (:func:`cpu_bf16_kernels`), ``onednn_isa_cap``
    (:func:`onednn_isa_cap`) and ``cores`` (``os.cpu_count()``)."""
    return dict(model=cpu_model_name(),
                capability=torch.backends.cpu.get_cpu_capability(),
                bf16_kernels=cpu_bf16_kernels(),
                onednn_isa_cap=onednn_isa_cap(),
                cores=os.cpu_count())


def cpu_summary(cpu: dict) -> str:
    """One line of :func:`describe_cpu`'s facts, as the quick start and
    its profile print them."""
    line = (f'{cpu["model"]}, {cpu["cores"]} cores, kernels '
            f'{cpu["capability"]}, native bfloat16: {cpu["bf16_kernels"]}')
    if cpu.get('onednn_isa_cap'):
        line += f' (oneDNN capped at {cpu["onednn_isa_cap"]})'
    return line
