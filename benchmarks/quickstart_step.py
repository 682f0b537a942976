"""Seconds per training step of the quick start's network, by CPU setting.

The quick start's cost is its training steps (stage 1, then two 3D
trainings). This times one step (forward + backward + Adam) of the quick
start's model at full width
(``synthetic/td-vol_cbam-res18-wasp_2d-1xb16-4e_...``: CBAM ResNet-18,
WASP, volumetric head, 96 x 96 input, batch 16; the ``w32`` settings: the
quick start's own half width) in one process
under each setting and prints it as a ratio to the first one (plain
float32 by default):

- ``fp32``: the default;
- ``channels_last``: model and input in NHWC (oneDNN's preferred layout);
- ``bf16``: ``torch.autocast('cpu', dtype=torch.bfloat16)`` (oneDNN has
  BF16 kernels on CPUs with AVX-512 BF16);
- ``channels_last+bf16``;
- ``bf16+fused``: bf16 with Adam's fused CPU kernel (``fused=True``; the
  default per-tensor loop cost 0.025 s a step, the fused one 0.008);
- ``bf16+fused+frozen1``: the quick start's 3D trainings, which start
  from stage 1 with the stem and layer1 frozen (``frozen_stages=1``): no
  gradient at the two highest resolutions;
- ``fp32+fused+frozen1``: the same in float32 (what the quick start
  runs on a CPU without native bfloat16 kernels, where the bf16 settings
  are skipped);
- ``...+w32``: the same on the quick start's network
  (``synthetic/td-vol_cbam-res18-w32-wasp_2d-bf16-...``: a ResNet-18 of
  32 to 256 channels instead of 64 to 512, and a 12 x 12 x 12 volume
  from two deconvolutions instead of 24 x 24 x 24 from three);
- ``...+w32+2d``: that network with a 2D head (``depth_bins=1``: no
  volume), the stage 1 of the recipe the README measured and did not
  keep;
- ``channels_last+bf16+fused+w32`` and ``...+frozen1+w32``: the half
  width in NHWC;
- ``...+w32+vol24``: the half width with the full-width configs' volume
  (24 x 24 x 24 bins from three deconvolutions) instead of the quick
  start's 12 x 12 x 12 from two;
- ``...+frozen4+w32``: the whole backbone frozen (``frozen_stages=4``):
  only WASP and the head are trained;
- each of those with 1 intra-op thread (what remains when a data-loading
  worker or another job takes the other core of a 2-core machine: with
  two threads on a contended machine a step ran up to 10x slower, with
  one it stayed near its quiet time).

The loss after the timed steps (the same batch each step, from the same
initialisation) is printed too: bf16 must stay close to fp32 (whether it
trains to the same accuracy is a training run's question).

    python benchmarks/quickstart_step.py [--steps 10] [--batch 16]
        [--settings fp32 bf16+fused ...]
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from train_step import build, make_batch, train_step  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(
    ROOT, 'configs/body_3d_keypoint/pose_resnet/synthetic/'
    'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')
HALF_WIDTH_CONFIG = osp.join(
    ROOT, 'configs/body_3d_keypoint/pose_resnet/synthetic/'
    'td-vol_cbam-res18-w32-wasp_2d-bf16-1xb16-8e_synthetic-96x96.py')
SETTINGS = ('fp32', 'channels_last', 'bf16', 'channels_last+bf16',
            'bf16+fused', 'bf16+fused+frozen1', 'fp32+fused+frozen1',
            'fp32+fused+w32', 'bf16+fused+w32', 'bf16+fused+frozen1+w32',
            'fp32+fused+frozen1+w32', 'bf16+fused+w32+2d',
            'fp32+fused+w32+2d', 'bf16+fused+frozen4+w32',
            'fp32+fused+frozen4+w32', 'channels_last+bf16+fused+w32',
            'channels_last+bf16+fused+frozen1+w32', 'bf16+fused+w32+vol24',
            'bf16+fused+frozen1+w32+vol24')
#: The head of the full-width configs, for the ``vol24`` settings.
VOLUME_24 = dict(depth_bins=24, deconv_out_channels=(128, 128, 128),
                 deconv_kernel_sizes=(4, 4, 4), heatmap_sigma=1.0)


def time_setting(setting: str, args) -> dict:
    """Median step seconds and the last step's loss of one setting."""
    from mmengine.config import Config
    config = HALF_WIDTH_CONFIG if 'w32' in setting else CONFIG
    cfg = Config.fromfile(config)
    head = VOLUME_24 if 'vol24' in setting else {}
    depth_bins = 1 if '2d' in setting else head.get(
        'depth_bins', cfg.model.head.depth_bins)
    torch.manual_seed(0)
    model, codec = build(config, cfg.codec.input_size[0], depth_bins, head)
    for frozen in (1, 4):
        if f'frozen{frozen}' in setting:
            model.backbone.frozen_stages = frozen
    model.train()  # freezes the frozen stages
    data = make_batch(codec, args.batch, cfg.codec.input_size[0],
                      cfg.model.head.num_keypoints, 'cpu')
    if 'channels_last' in setting:
        model = model.to(memory_format=torch.channels_last)
        data['inputs'] = data['inputs'].contiguous(
            memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3,
        fused=True if 'fused' in setting else None)
    train_step(model, optimizer, data, 'bf16' in setting)  # warm-up
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = train_step(model, optimizer, data, 'bf16' in setting)
        times.append(time.perf_counter() - start)
    return dict(step=float(np.median(times)), loss=float(loss.detach()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument(
        '--settings', nargs='+', choices=SETTINGS, default=SETTINGS,
        help='the settings to time (the first is the ratios\' baseline)')
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope

    import mmpose_epipolar  # noqa: F401
    init_default_scope('mmpose')
    from mmpose_epipolar.utils import cpu_has_native_bf16
    settings = args.settings
    if not cpu_has_native_bf16():
        # Emulated bfloat16 would take minutes a setting.
        settings = [s for s in settings if 'bf16' not in s]
        print('bf16 settings skipped: this CPU has no native bfloat16 '
              f'kernels ({torch.backends.cpu.get_cpu_capability()})')
    threads = torch.get_num_threads()
    rows = []
    for num_threads in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(num_threads)
        for setting in settings:
            rows.append((num_threads, setting, time_setting(setting, args)))
    torch.set_num_threads(threads)
    base = rows[0][2]
    print(f'quick-start network, batch {args.batch}, median of {args.steps} '
          f'steps, CPU ({threads} threads available); "x base": the step '
          f'time against {rows[0][1]!r} with {rows[0][0]} threads')
    print(f'{"threads":>7s}  {"setting":22s} {"step s":>7s} {"x base":>7s} '
          f'{"last loss":>11s}')
    for num_threads, setting, r in rows:
        print(f'{num_threads:7d}  {setting:22s} {r["step"]:7.3f} '
              f'{r["step"] / base["step"]:7.2f} {r["loss"]:11.5f}')


if __name__ == '__main__':
    main()
