"""Seconds per stage and per iteration of the quick start.

Two modes:

- ``--logs WORK_DIR``: read a finished (or running) quick start's work dir
  (``tools/quickstart.py --work-dir WORK_DIR``) and print the wall time of
  each stage (from the ``timings.json`` the quick start writes) and the
  seconds per training iteration of every training (median and 10th-90th
  percentiles of MMEngine's logged ``time``, from ``vis_data/scalars.json``
  of each run), so the next change can be judged against this one;
- ``--variants``: time short trainings (``--iters`` iterations, no
  validation, no checkpoint) of a quick-start config under several
  settings **in this process**, one after the other, each run twice
  interleaved (A B C A B C) so that load from other processes on the
  machine hits all of them alike, and print seconds per iteration as a
  ratio to the first setting. The settings: ``fp32`` (the config with an
  fp32 optimizer wrapper and the per-tensor Adam), ``bf16``
  (``BF16OptimWrapper``), ``bf16+fused`` (also Adam's fused CPU kernel),
  ``bf16+fused+workers0`` (data loaded in the training process: no
  worker competing with the two intra-op threads of a 2-core machine),
  ``bf16+fused+workers0+1thread`` (one intra-op thread: slower on a quiet
  machine, far steadier on one shared with other jobs).

    python benchmarks/quickstart_profile.py --logs work_dirs/quickstart
    python benchmarks/quickstart_profile.py --variants \
        [--config CONFIG] [--data-root data/synthetic_h36m] [--iters 40]
"""
import argparse
import glob
import json
import os.path as osp
import sys
import tempfile
import time
from typing import Optional

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
CONFIG_DIR = osp.join(ROOT, 'configs/body_3d_keypoint/pose_resnet/synthetic')
DEFAULT_CONFIG = osp.join(
    CONFIG_DIR, 'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
#: Training runs of a quick-start work dir, by their folder.
RUNS = (('stage 1 (2D)', 'stage1_2d'), ('self-supervised 3D',
                                         'stage3_selfsup'),
        ('fully supervised 3D', 'supervised'))
#: Overrides of each ``--variants`` setting on the config.
VARIANTS = {
    'fp32': dict(optim_wrapper=dict(type='OptimWrapper'), fused=False),
    'bf16': dict(optim_wrapper=dict(type='BF16OptimWrapper'), fused=False),
    'bf16+fused': dict(optim_wrapper=dict(type='BF16OptimWrapper'),
                       fused=True),
    'bf16+fused+workers0': dict(
        optim_wrapper=dict(type='BF16OptimWrapper'), fused=True,
        workers=0),
    'bf16+fused+workers0+1thread': dict(
        optim_wrapper=dict(type='BF16OptimWrapper'), fused=True,
        workers=0, threads=1),
}


def iteration_times(run_dir: str) -> np.ndarray:
    """Logged seconds per iteration of the newest run in ``run_dir``,
    shape ``(L,)`` (one value per logging interval)."""
    files = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        return np.zeros(0)
    times = []
    with open(files[-1]) as f:
        for line in f:
            record = json.loads(line)
            if 'loss' in record and 'time' in record:
                times.append(record['time'])
    return np.asarray(times, dtype=float)


def report_logs(work_dir: str) -> None:
    """Print the stage timings and per-iteration seconds of a work dir."""
    timings_file = osp.join(work_dir, 'timings.json')
    if osp.isfile(timings_file):
        with open(timings_file) as f:
            timings = json.load(f)
        print(f'{"stage":42s} {"min":>6s}')
        for stage, seconds in timings['stages'].items():
            print(f'{stage:42s} {seconds / 60:6.2f}')
        print(f'{"total":42s} {timings["total"] / 60:6.2f}')
        if 'load' in timings:
            print('load average (1 min) at the start and end: '
                  f'{timings["load"][0]:.2f}, {timings["load"][1]:.2f}')
        if 'cpu' in timings:
            from mmpose_epipolar.utils import cpu_summary
            print(f'CPU: {cpu_summary(timings["cpu"])}; '
                  f'{timings["threads"]} threads, {timings["precision"]}')
    else:
        print(f'{timings_file} not found (the run has not finished, or '
              'older code)')
    print(f'\n{"training":22s} {"its":>5s} {"s/it":>6s} {"p10":>6s} '
          f'{"p90":>6s}')
    for name, folder in RUNS:
        times = iteration_times(osp.join(work_dir, folder))
        if not len(times):
            continue
        log_interval = _log_interval(osp.join(work_dir, folder))
        print(f'{name:22s} {len(times) * log_interval:5d} '
              f'{np.median(times):6.3f} {np.percentile(times, 10):6.3f} '
              f'{np.percentile(times, 90):6.3f}')


def _log_interval(run_dir: str) -> int:
    from mmengine.config import Config
    configs = glob.glob(osp.join(run_dir, '*.py'))
    if not configs:
        return 1
    return int(Config.fromfile(configs[0]).default_hooks.logger.interval)


def short_config(config: str, data_root: str, iters: int, setting: dict,
                 work_dir: str):
    """``config`` cut to ``iters`` iterations of one epoch, without
    validation, checkpoints or learning-rate schedule."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.train_dataloader.dataset.indices = iters * \
        cfg.train_dataloader.batch_size
    if 'workers' in setting:
        cfg.train_dataloader.num_workers = setting['workers']
        cfg.train_dataloader.persistent_workers = setting['workers'] > 0
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 2
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h.get('type') != 'PseudoLabelHook'
    ]
    cfg.optim_wrapper.type = setting['optim_wrapper']['type']
    cfg.optim_wrapper.optimizer.fused = setting['fused'] or None
    cfg.optim_wrapper.optimizer.foreach = None if setting['fused'] else False
    cfg.work_dir = work_dir
    cfg.visualizer.name = f'visualizer@{work_dir}'
    return cfg


def time_training(cfg, threads: Optional[int] = None,
                  skip: int = 5) -> float:
    """Median seconds per training iteration (the first ``skip`` left
    out) of one short run of ``cfg``, with ``threads`` intra-op threads
    (None: unchanged)."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    class IterationTimer(Hook):

        def __init__(self):
            self.times = []

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.start = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.times.append(time.perf_counter() - self.start)

    runner = Runner.from_cfg(cfg)
    timer = IterationTimer()
    runner.register_hook(timer, priority='LOWEST')
    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    try:
        runner.train()
    finally:
        torch.set_num_threads(default)
    return float(np.median(timer.times[skip:]))


def report_variants(args) -> None:
    """Time each setting twice, interleaved, and print ratios."""
    from mmengine.registry import init_default_scope

    import mmpose_epipolar  # noqa: F401
    from mmpose_epipolar.utils import cpu_has_native_bf16
    init_default_scope('mmpose')
    names = args.settings or list(VARIANTS)
    if not args.settings and not cpu_has_native_bf16():
        # Emulated bfloat16 would take many minutes a setting.
        names = [name for name in names if 'bf16' not in name]
        print('bf16 settings skipped: this CPU has no native bfloat16 '
              'kernels (name them with --settings to time them anyway)')
    results = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in names:
                cfg = short_config(args.config, args.data_root, args.iters,
                                   VARIANTS[name],
                                   osp.join(tmp, f'{name}-{repeat}'))
                results[name].append(
                    time_training(cfg, VARIANTS[name].get('threads')))
    base = np.mean(results[names[0]])
    print(f'\n{osp.basename(args.config)}, {args.iters} iterations a run, '
          f'{args.repeats} runs each, interleaved')
    print(f'{"setting":22s} {"s/it":>6s} {"runs":>14s} '
          f'{"x " + names[0]:>10s}')
    for name in names:
        runs = ' '.join(f'{t:.3f}' for t in results[name])
        mean = np.mean(results[name])
        print(f'{name:22s} {mean:6.3f} {runs:>14s} {mean / base:10.2f}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--logs', metavar='WORK_DIR',
                      help='report a quick start work dir')
    mode.add_argument('--variants', action='store_true',
                      help='time short trainings under each setting')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/synthetic_h36m')
    parser.add_argument('--iters', type=int, default=40)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--settings', nargs='+', choices=list(VARIANTS),
                        help='a subset of the settings (first: baseline)')
    args = parser.parse_args(argv)
    if args.logs:
        report_logs(args.logs)
    else:
        report_variants(args)


if __name__ == '__main__':
    main()
