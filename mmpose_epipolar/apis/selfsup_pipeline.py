"""Run the whole self-supervised pipeline of a config, stage by stage.

1. 2D pre-training: ``selfsup_pipeline.pretrain_config`` (MPII, or the
   embedded dataset with its depth dropped);
2. pseudo-labels: the stage-1 model predicts 2D on every training view of
   the self-supervised config (which holds no labels), and the epipolar
   engine triangulates each synchronous frame
   (``tools/make_pseudo_labels.py``);
3. self-supervised 3D training of the same network, initialised from the
   stage-1 weights (unless ``selfsup_pipeline.init_from_stage1`` is
   False, the transfer-learning ablation), against the pseudo-labels.

Each stage is skipped when its output exists, and a training stage that was
interrupted resumes from its last checkpoint, so the command can simply be
run again. Stage outputs go to ``WORK_DIR/{stage1_2d,pseudo_labels.npz,
stage3_CONFIG_NAME}`` (``stage3_selfsup`` from :func:`run_stages` when the
config names no ``stage3_name``).

Usage:
    python tools/selfsup_pipeline.py SELFSUP_CONFIG [--work-dir DIR]
        [--cfg-options k=v ...] [--stage1-options k=v ...]
"""
import argparse
import copy
import os.path as osp
from typing import Dict, List, Optional


def parse_args(argv: Optional[List[str]] = None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='self-supervised (stage 3) config')
    parser.add_argument('--work-dir', help='root of all stage outputs')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='overrides of the self-supervised config')
    parser.add_argument(
        '--stage1-options', nargs='+', action=DictAction, default={},
        help='overrides of the 2D pre-training config')
    return parser.parse_args(argv)


def stage_paths(work_dir: str, stage3_name: str = 'selfsup') -> Dict[str, str]:
    """Where the stages write. Configs sharing a work dir share stages 1
    and 2 (the ablations reuse the same 2D model and labels); stage 3 gets
    a folder of its own per config."""
    return dict(
        stage1=osp.join(work_dir, 'stage1_2d'),
        predictions=osp.join(work_dir, 'stage2_predictions.pkl'),
        labels=osp.join(work_dir, 'pseudo_labels.npz'),
        stage3=osp.join(work_dir, f'stage3_{stage3_name}'))


def final_checkpoint(cfg) -> str:
    """The checkpoint a finished run of ``cfg`` leaves in its work dir."""
    return osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')


def own_visualizer(cfg) -> None:
    """Give a run its own visualizer: MMEngine keeps one instance per name
    in the process, so later runs would log into the first run's folder."""
    if cfg.get('visualizer'):
        cfg.visualizer.name = f'visualizer@{osp.abspath(cfg.work_dir)}'


def train(cfg, stage: str) -> str:
    """Train ``cfg`` unless finished; resume if interrupted."""
    from mmengine.runner import Runner, find_latest_checkpoint
    own_visualizer(cfg)
    final = final_checkpoint(cfg)
    if osp.isfile(final):
        print(f'[{stage}] done already: {final}')
        return final
    if find_latest_checkpoint(cfg.work_dir):
        # MMEngine resumes from `load_from` when both are set.
        cfg.resume, cfg.load_from = True, None
        print(f'[{stage}] resuming in {cfg.work_dir}')
    else:
        print(f'[{stage}] training in {cfg.work_dir}')
    Runner.from_cfg(cfg).train()
    return final


def predict_2d(stage1_cfg, selfsup_cfg, checkpoint: str,
               out_file: str) -> None:
    """Stage-1 2D predictions on every (label-free) training view."""
    from mmengine.runner import Runner
    if osp.isfile(out_file):
        print(f'[stage 2] 2D predictions exist: {out_file}')
        return
    cfg = copy.deepcopy(stage1_cfg)
    dataset = copy.deepcopy(selfsup_cfg.train_dataloader.dataset)
    # Not test_mode: that would switch the datasets to their test split.
    dataset.update(pipeline=selfsup_cfg.test_dataloader.dataset.pipeline)
    cfg.test_dataloader = dict(
        batch_size=selfsup_cfg.test_dataloader.get('batch_size', 32),
        num_workers=selfsup_cfg.test_dataloader.get('num_workers', 0),
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        dataset=dataset)
    cfg.test_evaluator = dict(type='DumpResults', out_file_path=out_file)
    cfg.test_cfg = dict()
    cfg.load_from = checkpoint
    cfg.work_dir = osp.join(osp.dirname(out_file), 'stage2_inference')
    own_visualizer(cfg)
    print(f'[stage 2] 2D inference of {checkpoint} on '
          f"{dataset['type']} (mode={dataset.get('mode')})")
    Runner.from_cfg(cfg).test()


def make_labels(selfsup_cfg, predictions: str, out_file: str) -> None:
    if osp.isfile(out_file):
        print(f'[stage 2] pseudo-labels exist: {out_file}')
        return
    dataset = selfsup_cfg.train_dataloader.dataset
    cameras = osp.join(dataset.get('data_root') or '',
                       dataset.get('camera_param_file',
                                   'annotation_body3d/cameras.pkl'))
    options = selfsup_cfg.selfsup_pipeline.get('pseudo_labels', {})
    argv = [predictions, cameras, '--out', out_file]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    from .pseudo_labels import main as make_pseudo_labels_main
    print('[stage 2] triangulating: make_pseudo_labels.py ' + ' '.join(argv))
    make_pseudo_labels_main(argv)


def set_label_file(pipeline: List[dict], label_file: str) -> None:
    found = [t for t in pipeline if t['type'] == 'EpipolarPseudoLabel']
    if not found:
        raise KeyError('the self-supervised config has no EpipolarPseudoLabel'
                       ' transform in train_dataloader.dataset.pipeline')
    for transform in found:
        transform['label_file'] = label_file


def load_configs(args):
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if 'selfsup_pipeline' not in cfg:
        raise KeyError(f'{args.config} has no `selfsup_pipeline` section '
                       '(pretrain_config, pseudo_labels)')
    work_dir = args.work_dir or osp.join(
        'work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    stage1_path = osp.join(
        osp.dirname(osp.abspath(args.config)),
        cfg.selfsup_pipeline.pretrain_config)
    stage1 = Config.fromfile(stage1_path)
    # Ablations change the architecture of both stages alike.
    stage1.merge_from_dict(
        cfg.selfsup_pipeline.get('pretrain_options', {}).to_dict()
        if 'pretrain_options' in cfg.selfsup_pipeline else {})
    stage1.merge_from_dict(args.stage1_options)
    cfg.stage3_name = osp.splitext(osp.basename(args.config))[0]
    return cfg, stage1, work_dir


def run_pipeline(argv: Optional[List[str]] = None) -> Dict[str, str]:
    """Run stages 1 to 3 from command-line arguments.

    Returns:
        dict: Where each stage's checkpoint, logs and labels went.
    """
    args = parse_args(argv)
    cfg, stage1, work_dir = load_configs(args)
    return run_stages(cfg, stage1, work_dir)


def run_stages(cfg, stage1, work_dir: str) -> Dict[str, str]:
    """Run stages 1 to 3 of loaded configs; see :func:`run_pipeline`."""
    paths = stage_paths(work_dir, cfg.get('stage3_name', 'selfsup'))

    stage1.work_dir = paths['stage1']
    stage1_ckpt = train(stage1, 'stage 1')

    predict_2d(stage1, cfg, stage1_ckpt, paths['predictions'])
    make_labels(cfg, paths['predictions'], paths['labels'])

    set_label_file(cfg.train_dataloader.dataset.pipeline, paths['labels'])
    # Transfer learning (the paper's default); the ablation starts from
    # scratch and uses stage 1 only for the pseudo-labels.
    if cfg.selfsup_pipeline.get('init_from_stage1', True):
        cfg.load_from = stage1_ckpt
    cfg.work_dir = paths['stage3']
    stage3_ckpt = train(cfg, 'stage 3')

    outputs = dict(
        stage1_checkpoint=stage1_ckpt,
        stage1_logs=paths['stage1'],
        pseudo_labels=paths['labels'],
        stage3_checkpoint=stage3_ckpt,
        stage3_logs=paths['stage3'])
    print('\nSelf-supervised pipeline finished:')
    for key, value in outputs.items():
        print(f'  {key:18s} {value}')
    return outputs

