"""The quick start: the whole method on the embedded dataset, on a CPU.

1. generates the synthetic multi-view dataset into ``--data-root`` (reused
   when present);
2. runs the self-supervised pipeline (``tools/selfsup_pipeline.py``):
   2D pre-training, 2D inference on every training view and epipolar
   pseudo-labels, self-supervised 3D training from the 2D weights;
3. trains the fully supervised counterpart from the same 2D weights;
4. evaluates both on the test subjects (S9, S11) and prints one table with
   the mean-pose baseline and the pseudo-labels' own error; saves the loss
   curves and the per-joint chart as images.

Every stage is skipped when its output exists and resumes when interrupted,
so running the command again continues where it stopped. The wall time of
each stage is printed at the end and written to ``timings.json``
(``benchmarks/quickstart_profile.py --logs WORK_DIR`` reads it with the
seconds per iteration of each training).

The configs are the synthetic ``*w32*bf16*_synthetic-96x96.py`` ones: the
network of the float32 configs at half the width (ResNet-18 with 32 to 256
channels) with a volume of 12 x 12 x 12 bins instead of 24 x 24 x 24 (two
deconvolutions instead of three), stage 1 for twice their iterations
(2400; the 3D trainings keep their 600), bfloat16 forward passes
(training, the teacher's 2D and the tests), Adam's fused kernel, the data
loaded in the training process with its decoded images cached (1.3 GB),
layer1 and the stem frozen in the 3D trainings (initialised from stage
1), and no validation pass at the end of the 3D trainings (each model is
tested once, here). On a CPU without native
bfloat16 kernels (no AVX-512 BF16 or AMX: emulated bfloat16 ran a
convolution about 30x slower than float32 on one) the same configs run
in float32 (``--precision auto``, the default).

Usage:
    python tools/quickstart.py [--work-dir work_dirs/quickstart]
        [--data-root data/synthetic_h36m] [--seed 0] [--threads N]
        [--precision {auto,bf16,fp32}]
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time
from contextlib import contextmanager

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose_epipolar  # noqa: E402,F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs/body_3d_keypoint/pose_resnet/synthetic')
#: The self-supervised and fully supervised configs; stage 1 is the
#: former's ``selfsup_pipeline.pretrain_config``.
CONFIGS = (
    'td-vol_cbam-res18-w32-wasp_selfsup-bf16-1xb16-2e_synthetic-96x96.py',
    'td-vol_cbam-res18-w32-wasp_bf16-1xb16-2e_synthetic-96x96.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--data-root', default='data/synthetic_h36m')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='seed of weights, sampling and augmentation in every stage')
    parser.add_argument(
        '--precision', choices=('auto', 'bf16', 'fp32'), default='auto',
        help='forward passes in bfloat16 or float32; auto: bfloat16 on a '
        'GPU or a CPU with native bfloat16 kernels (AVX-512 BF16 or AMX), '
        'float32 on other CPUs')
    parser.add_argument(
        '--threads', type=int, default=None,
        help='intra-op CPU threads (default: PyTorch\'s, one a core). On a '
        'machine shared with other jobs, 1 is steadier: two threads on a '
        'contended 2-core machine ran up to 10x slower than on a quiet one')
    return parser.parse_args()


def point_to_data(cfg, data_root: str) -> None:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root


def load_configs() -> tuple:
    """The self-supervised, stage-1 and fully supervised configs."""
    from mmengine.config import Config
    selfsup_name, supervised_name = CONFIGS
    selfsup = Config.fromfile(osp.join(CONFIG_DIR, selfsup_name))
    stage1 = Config.fromfile(
        osp.join(CONFIG_DIR, selfsup.selfsup_pipeline.pretrain_config))
    supervised = Config.fromfile(osp.join(CONFIG_DIR, supervised_name))
    return selfsup, stage1, supervised


def resolve_precision(precision: str) -> str:
    """``'bf16'`` or ``'fp32'`` for ``--precision``."""
    if precision != 'auto':
        return precision
    import torch

    from mmpose_epipolar.utils import cpu_has_native_bf16
    native = torch.cuda.is_available() or cpu_has_native_bf16()
    return 'bf16' if native else 'fp32'


def use_float32(cfg) -> None:
    """Run a quick-start config's bfloat16 forward passes in float32: the
    training's (``BF16OptimWrapper``), the tests' (``fp16``) and the
    teacher's (``pseudo_labels.amp``); nothing else changes."""
    if cfg.optim_wrapper.type == 'BF16OptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'
    for loop in ('val_cfg', 'test_cfg'):
        if cfg.get(loop) is not None:
            cfg[loop].pop('fp16', None)
    if 'pseudo_labels' in cfg:
        cfg.pseudo_labels.amp = False


def refresh_stale_data(data_root: str, work_dir: str,
                       generator_cfg: dict) -> bool:
    """Whether ``data_root`` was made by another generator version or with
    other parameters than the configs' and must be generated again; if
    so, the outputs trained on it in ``work_dir`` are moved aside to
    ``{work_dir}.old-data`` (not deleted), since every stage would
    otherwise skip as done."""
    from mmpose_epipolar.datasets.synthetic import stale_output
    why = stale_output(data_root, **generator_cfg)
    if why is None:
        return False
    print(f'[data] {data_root} was made by {why}: generating it again')
    if osp.isdir(work_dir):
        aside = f'{work_dir.rstrip("/")}.old-data'
        if osp.exists(aside):
            aside += time.strftime('-%Y%m%d-%H%M%S')
        os.rename(work_dir, aside)
        print(f'[data] outputs made from the old data moved to {aside}')
    return True


def evaluate(cfg, checkpoint: str, out_dir: str) -> dict:
    """Test-split metrics of a checkpoint, with the per-joint chart."""
    from mmengine.runner import Runner

    from mmpose_epipolar.apis.selfsup_pipeline import own_visualizer
    metrics_file = osp.join(out_dir, 'metrics.json')
    if osp.isfile(metrics_file):
        with open(metrics_file) as f:
            return json.load(f)
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = out_dir
    cfg.test_evaluator = dict(type='Body3DMPJPE', out_dir=out_dir)
    own_visualizer(cfg)
    metrics = Runner.from_cfg(cfg).test()
    with open(metrics_file, 'w') as f:
        json.dump(metrics, f, indent=2)
    return metrics


def plot_losses(runs: dict, out_file: str) -> None:
    """Training loss curves from MMEngine's ``vis_data/scalars.json``."""
    import glob

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, work_dir in runs.items():
        files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json')))
        steps, losses = [], []
        for path in files:
            with open(path) as f:
                for line in f:
                    record = json.loads(line)
                    if 'loss' in record and 'step' in record:
                        steps.append(record['step'])
                        losses.append(record['loss'])
        if steps:
            ax.plot(steps, losses, label=name)
    ax.set_xlabel('iteration')
    ax.set_ylabel('training loss (smooth-L1 + heatmap regulariser)')
    ax.set_yscale('log')
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


class StageClock:
    """Wall time of the quick start's stages, in seconds, in order."""

    def __init__(self):
        self.start = time.time()
        self.stages = {}
        self.began = {}
        self.load = [os.getloadavg()[0]]

    @contextmanager
    def stage(self, name: str):
        began = self.began[name] = time.time()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + \
                time.time() - began

    def split_labels(self, stage: str, label_file: str) -> None:
        """Split the pseudo-labels out of ``stage``: they are made inside
        its training (``PseudoLabelHook``, before the first iteration), so
        their time is from the stage's start to the label file's
        modification (zero when the file was reused)."""
        began, labels = self.began[stage], 0.0
        if osp.isfile(label_file) and osp.getmtime(label_file) > began:
            labels = osp.getmtime(label_file) - began
        total = self.stages.pop(stage)
        self.stages[STAGE_LABELS] = labels
        self.stages[stage] = total - labels

    def save(self, out_file: str, precision: str, cpu: dict) -> dict:
        """Write the timings with the run's precision and CPU
        (:func:`~mmpose_epipolar.utils.describe_cpu`)."""
        self.load.append(os.getloadavg()[0])
        import torch
        timings = dict(stages=self.stages, total=time.time() - self.start,
                       load=self.load, threads=torch.get_num_threads(),
                       precision=precision, cpu=cpu)
        with open(out_file, 'w') as f:
            json.dump(timings, f, indent=2)
        return timings


STAGE_1 = 'stage 1: 2D training + test PCK'
STAGE_LABELS = 'stage 2: 2D inference + pseudo-labels'
STAGE_3 = 'stage 3: self-supervised 3D'


def main():
    args = parse_args()
    clock = StageClock()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    from mmpose.registry import DATASETS

    from mmpose_epipolar.apis.selfsup_pipeline import (
        run_stages,
        train,
    )
    from mmpose_epipolar.evaluation import (
        mean_pose_errors,
        pseudo_label_errors,
    )
    from mmpose_epipolar.utils import cpu_summary, describe_cpu

    selfsup, stage1, supervised = load_configs()
    precision = resolve_precision(args.precision)
    cpu = describe_cpu()
    print(f'[precision] forward passes in {precision} (CPU: '
          f'{cpu_summary(cpu)})')
    for cfg in (selfsup, stage1, supervised):
        point_to_data(cfg, args.data_root)
        cfg.randomness = dict(seed=args.seed)
        if precision == 'fp32':
            use_float32(cfg)
    for cfg in (selfsup, supervised):
        # Tested once at the end, with the per-joint chart: no validation
        # pass during or at the end of training (MMEngine validates after
        # the last epoch whatever the interval, unless val_begin is later).
        cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1

    print(f'[data] embedded synthetic dataset in {args.data_root}')
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    with clock.stage('data'):
        # Generated here on first use, one worker process per core (the
        # files do not depend on it), with the configs' generator
        # parameters (the trainings rebuild these datasets and must find
        # the same data); data of another generator version or other
        # parameters are replaced.
        generator_cfg = dict(
            supervised.train_dataloader.dataset.get('generator_cfg', {}))
        stale = refresh_stale_data(args.data_root, args.work_dir,
                                   generator_cfg)
        train_set = DATASETS.build(
            dict(type='SyntheticMultiViewDataset', data_root=args.data_root,
                 mode='supervised',
                 generator_cfg=dict(generator_cfg,
                                    num_workers=os.cpu_count() or 1,
                                    overwrite=stale)))
        test_set = DATASETS.build(
            dict(type='SyntheticMultiViewDataset', data_root=args.data_root,
                 mode='test', test_mode=True, generator_cfg=generator_cfg))

    # The self-supervised pipeline, each training timed. The labels
    # (stage 2) are made inside stage 3's training by its PseudoLabelHook.
    stage_names = {'stage 1': STAGE_1, 'stages 2 and 3': STAGE_3}
    outputs = run_stages(selfsup, stage1, args.work_dir,
                         timed=lambda name: clock.stage(stage_names[name]))
    clock.split_labels(STAGE_3, outputs['pseudo_labels'])
    stage1_ckpt = outputs['stage1_checkpoint']
    selfsup_ckpt = outputs['stage3_checkpoint']

    supervised.load_from = stage1_ckpt
    supervised.work_dir = osp.join(args.work_dir, 'supervised')
    with clock.stage('fully supervised 3D'):
        supervised_ckpt = train(supervised, 'fully supervised')

    with clock.stage('evaluation: 2 models on the test split'):
        results = {
            'mean-pose baseline': mean_pose_errors(train_set, test_set),
            'pseudo-labels (training views)': pseudo_label_errors(
                outputs['pseudo_labels'], train_set),
            'Pose ResNet, self-supervised': evaluate(
                selfsup, selfsup_ckpt,
                osp.join(args.work_dir, 'eval_selfsup')),
            'Pose ResNet, fully supervised': evaluate(
                supervised, supervised_ckpt,
                osp.join(args.work_dir, 'eval_supervised')),
        }
        plot_losses(
            {
                'stage 1 (2D)': outputs['stage1_logs'],
                'self-supervised 3D': outputs['stage3_logs'],
                'fully supervised 3D': supervised.work_dir
            }, osp.join(args.work_dir, 'loss_curves.png'))
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    timings = clock.save(osp.join(args.work_dir, 'timings.json'),
                         precision, cpu)
    print_table(results, args.work_dir, timings)


def print_table(results: dict, work_dir: str, timings: dict) -> None:
    from mmpose_epipolar.utils import cpu_summary
    print('\nWall time per stage (min):')
    for stage, seconds in timings['stages'].items():
        print(f'  {stage:40s} {seconds / 60:5.2f}')
    print(f'Load average (1 min) at the start and the end: '
          f'{timings["load"][0]:.2f}, {timings["load"][1]:.2f}; '
          f'{timings["threads"]} intra-op threads; forward passes in '
          f'{timings["precision"]}; CPU: {cpu_summary(timings["cpu"])}')
    print(f'\nQuick start finished in {timings["total"] / 60:.1f} min. '
          'Synthetic test subjects S9 and S11; root-aligned errors in mm '
          '(predictions placed with the ground-truth root depth, as '
          'EpipolarPose evaluates).')
    print(f'{"":34s} {"MPJPE":>8s} {"P-MPJPE":>8s} {"N-MPJPE":>8s}')
    for name, metrics in results.items():
        values = [
            metrics.get(key, metrics.get(f'h36m/{key}', float('nan')))
            for key in ('MPJPE', 'P-MPJPE', 'N-MPJPE')
        ]
        extra = ''
        if 'valid_fraction' in metrics:
            extra = f'   ({100 * metrics["valid_fraction"]:.0f}% valid)'
        print(f'{name:34s} ' + ' '.join(f'{v:8.1f}' for v in values) + extra)
    print(f'\nCheckpoints and logs: {osp.abspath(work_dir)}/'
          '{stage1_2d,stage3_selfsup,supervised}; pseudo-labels: '
          'pseudo_labels.npz; loss curves: loss_curves.png; per-joint charts:'
          ' eval_*/per_joint_mpjpe.png; numbers: results.json')


if __name__ == '__main__':
    main()
