"""Run the whole self-supervised pipeline of a config, stage by stage.

1. 2D pre-training: ``selfsup_pipeline.pretrain_config`` (MPII, or the
   embedded dataset with its depth dropped);
2. pseudo-labels: the stage-1 model predicts 2D on every training view of
   the self-supervised config (which holds no labels), and the epipolar
   engine triangulates each synchronous frame;
3. self-supervised 3D training of the same network, initialised from the
   stage-1 weights (unless ``pseudo_labels.init_from_teacher`` is False,
   the transfer-learning ablation), against the pseudo-labels.

Stages 2 and 3 are the config's own training (``tools/train.py CONFIG``):
its :class:`PseudoLabelHook` makes the labels before training; this module
only trains stage 1 first and points the hook at it.

Each stage is skipped when its output exists, and a training stage that was
interrupted resumes from its last checkpoint, so the command can simply be
run again. Stage outputs go to ``WORK_DIR/{stage1_2d,pseudo_labels.npz,
stage3_CONFIG_NAME}`` (``stage3_selfsup`` from :func:`run_stages` when the
config names no ``stage3_name``).

Command line: ``tools/selfsup_pipeline.py``.
"""
import os.path as osp
from contextlib import nullcontext
from typing import Callable, ContextManager, Dict, Optional


def stage_paths(work_dir: str, stage3_name: str = 'selfsup') -> Dict[str, str]:
    """Where the stages write. Configs sharing a work dir share stages 1
    and 2 (the ablations reuse the same 2D model and labels); stage 3 gets
    a folder of its own per config."""
    return dict(
        stage1=osp.join(work_dir, 'stage1_2d'),
        labels=osp.join(work_dir, 'pseudo_labels.npz'),
        stage3=osp.join(work_dir, f'stage3_{stage3_name}'))


def final_checkpoint(cfg) -> str:
    """The checkpoint a finished run of ``cfg`` leaves in its work dir
    (``epoch_N.pth``, or ``iter_N.pth`` for an iteration-based loop)."""
    if 'max_epochs' in cfg.train_cfg:
        return osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    return osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')


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


def use_stage1(cfg, checkpoint: str, label_file: str) -> None:
    """Point the config's ``PseudoLabelHook`` (through its
    ``pseudo_labels`` dict) at the stage-1 checkpoint and the label file
    of this pipeline run."""
    hooks = [h for h in cfg.get('custom_hooks', [])
             if h.get('type') == 'PseudoLabelHook']
    if not hooks:
        raise KeyError('the self-supervised config has no PseudoLabelHook in '
                       'custom_hooks (it builds the pseudo-labels)')
    cfg.setdefault('pseudo_labels', {})
    cfg.pseudo_labels.update(teacher_checkpoint=checkpoint,
                             label_file=label_file)


def load_configs(config: str,
                 work_dir: Optional[str] = None,
                 cfg_options: Optional[Dict] = None,
                 stage1_options: Optional[Dict] = None):
    """The self-supervised config, its 2D pre-training config and the work
    dir of a pipeline run.

    Args:
        config (str): Self-supervised (stage 3) config file.
        work_dir (str, optional): Root of all stage outputs; defaults to
            ``work_dirs/CONFIG_NAME``.
        cfg_options (dict, optional): Overrides of the config.
        stage1_options (dict, optional): Overrides of the stage-1 config.

    Returns:
        tuple: ``(cfg, stage1_cfg, work_dir)``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options or {})
    if 'selfsup_pipeline' not in cfg:
        raise KeyError(f'{config} has no `selfsup_pipeline` section '
                       '(pretrain_config, pseudo_labels)')
    work_dir = work_dir or osp.join(
        'work_dirs',
        osp.splitext(osp.basename(config))[0])
    stage1 = Config.fromfile(
        pretrain_config_path(config, cfg.selfsup_pipeline.pretrain_config))
    # Ablations change the architecture of both stages alike.
    stage1.merge_from_dict(
        cfg.selfsup_pipeline.get('pretrain_options', {}).to_dict()
        if 'pretrain_options' in cfg.selfsup_pipeline else {})
    stage1.merge_from_dict(stage1_options or {})
    cfg.stage3_name = osp.splitext(osp.basename(config))[0]
    return cfg, stage1, work_dir


def pretrain_config_path(config: str, pretrain_config: str) -> str:
    """``selfsup_pipeline.pretrain_config`` is relative to the config file
    that names it: this config or one it inherits from."""
    from mmengine.config import Config
    pending = [osp.abspath(config)]
    while pending:
        current = pending.pop(0)
        candidate = osp.join(osp.dirname(current), pretrain_config)
        if osp.isfile(candidate):
            return osp.normpath(candidate)
        pending += [osp.join(osp.dirname(current), base)
                    for base in Config._get_base_files(current)
                    if '::' not in base]
    raise FileNotFoundError(
        f'selfsup_pipeline.pretrain_config {pretrain_config!r} of {config} '
        'is found next to neither the config nor any config it inherits')


def run_pipeline(config: str, **kwargs) -> Dict[str, str]:
    """Run stages 1 to 3 of a config file (``kwargs``: see
    :func:`load_configs`).

    Returns:
        dict: Where each stage's checkpoint, logs and labels went.
    """
    return run_stages(*load_configs(config, **kwargs))


def run_stages(cfg, stage1, work_dir: str,
               timed: Optional[Callable[[str], ContextManager]] = None
               ) -> Dict[str, str]:
    """Run stages 1 to 3 of loaded configs; see :func:`run_pipeline`.

    Args:
        cfg (Config): The self-supervised config (stages 2 and 3).
        stage1 (Config): The 2D pre-training config.
        work_dir (str): Where the stages write (:func:`stage_paths`).
        timed (callable, optional): ``timed(name)`` gives a context manager
            around each training: ``'stage 1'`` and ``'stages 2 and 3'``
            (e.g. a clock per stage).

    Returns:
        dict: The checkpoints, the label file and the log folders.
    """
    timed = timed or (lambda name: nullcontext())
    paths = stage_paths(work_dir, cfg.get('stage3_name', 'selfsup'))

    stage1.work_dir = paths['stage1']
    with timed('stage 1'):
        stage1_ckpt = train(stage1, 'stage 1')

    # Stage 2 runs inside stage 3's training: PseudoLabelHook predicts 2D
    # with the stage-1 model, triangulates and writes the labels (or reuses
    # them), and initialises the 3D network from stage 1 unless the config
    # says otherwise (the transfer-learning ablation).
    use_stage1(cfg, stage1_ckpt, paths['labels'])
    cfg.work_dir = paths['stage3']
    with timed('stages 2 and 3'):
        stage3_ckpt = train(cfg, 'stages 2 and 3')

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

