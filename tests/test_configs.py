import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS

CONFIG_ROOT = Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(
    p for p in CONFIG_ROOT.rglob('*.py') if '_base_' not in p.parts)
#: The design's short names (``configs/*.py``): each inherits one canonical
#: model-zoo config and adds nothing.
SHORT = {
    'poseresnet_h36m_selfsup.py':
    'h36m/td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py',
    'poseresnet_h36m_supervised.py':
    'h36m/td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py',
    'poseresnet_synthetic_selfsup.py':
    'synthetic/td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py',
}


def offline(model_cfg):
    """Published configs name ImageNet weights; tests never download."""
    if model_cfg.get('backbone', {}).get('init_cfg'):
        model_cfg.backbone.init_cfg = None
    return model_cfg


def test_configs_exist():
    names = {p.name for p in CONFIGS}
    assert 'td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py' in names
    assert 'td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports.imports == ['mmpose_epipolar']
    if path.name in SHORT:
        canonical = Config.fromfile(
            str(CONFIG_ROOT / 'body_3d_keypoint/pose_resnet' /
                SHORT[path.name]))
        assert cfg.to_dict() == canonical.to_dict()
        return
    # MMPose naming: {algorithm}_{backbone}_{training}_{dataset}-{input}.py
    algorithm, backbone, training, rest = path.stem.split('_', 3)
    assert algorithm == 'td-vol'
    assert 'x' in rest.split('-')[-1]
    model = MODELS.build(offline(cfg.model))
    size = cfg.codec.input_size
    model.eval()
    with torch.no_grad():
        coords, _ = model.head(model.extract_feat(torch.rand(1, 3, *size)))
    assert coords.shape == (1, cfg.model.head.num_keypoints, 3)
    assert cfg.train_dataloader.dataset.type
    if cfg.val_dataloader is None:
        # Footage has no 3D ground truth to validate on.
        assert cfg.val_cfg is None and cfg.val_evaluator is None
    else:
        assert cfg.val_dataloader.dataset.type


def test_wrong_model_key_names_the_key():
    cfg = Config.fromfile(
        str(CONFIG_ROOT / '_base_/models/pose-resnet_cbam-res50-wasp.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.neck['dilation_rates'] = (1, 2)
    with pytest.raises(TypeError, match='dilation_rates'):
        MODELS.build(cfg.model)
    cfg.model.neck.pop('dilation_rates')
    cfg.model.backbone.type = 'CBAMResNeXt'
    with pytest.raises(KeyError, match='CBAMResNeXt'):
        MODELS.build(cfg.model)


def test_stage1_checkpoint_transfers_to_the_3d_network(repo_root):
    """2D pre-training and 3D training share every weight of the network."""
    base = repo_root / 'configs/body_3d_keypoint/pose_resnet'
    pairs = [
        ('mpii/td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py',
         'h36m/td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py'),
        ('synthetic/td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py',
         'synthetic/'
         'td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py'),
    ]
    for stage1, stage3 in pairs:
        cfg1 = Config.fromfile(str(base / stage1))
        cfg3 = Config.fromfile(str(base / stage3))
        assert cfg3.selfsup_pipeline.pretrain_config.endswith(
            stage1.split('/')[-1])
        state = MODELS.build(offline(cfg1.model)).state_dict()
        result = MODELS.build(offline(cfg3.model)).load_state_dict(
            state, strict=False)
        assert result.missing_keys == [] and result.unexpected_keys == []


# The footage configs train on labels the footage pipeline made (their
# rules: tests/datasets/test_footage_multiview_dataset.py).
SELFSUP = [p for p in CONFIGS
           if '_selfsup' in p.name and p.parent.name != 'footage']


@pytest.mark.parametrize('path', SELFSUP, ids=lambda p: p.name)
def test_pipeline_stage1_has_the_stage3_architecture(path):
    """Ablations change both stages, so stage-1 weights always transfer."""
    from mmpose_epipolar.apis.selfsup_pipeline import load_configs
    cfg, stage1, work_dir = load_configs(str(path))
    assert work_dir.endswith(path.stem)
    keys3 = set(MODELS.build(offline(cfg.model)).state_dict())
    keys1 = set(MODELS.build(offline(stage1.model)).state_dict())
    assert keys1 == keys3
    pipeline = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'EpipolarPseudoLabel' in pipeline
    assert cfg.train_dataloader.dataset.mode == 'self_supervised'
    if 'noocc' in path.name:
        assert 'SyntheticOcclusion' not in pipeline
    if path.name.startswith('td-vol_res50'):
        assert not any(k.startswith('backbone.cbam') for k in keys3)
    if '_cbam-res50_' in path.name:
        assert not any(k.startswith('neck.') for k in keys3)
    hooks = [h.type for h in cfg.custom_hooks]
    assert 'PseudoLabelHook' in hooks and 'UnreadableImageHook' in hooks
    assert cfg.pseudo_labels.label_file and \
        cfg.pseudo_labels.teacher_checkpoint.endswith(
            f'epoch_{stage1.train_cfg.max_epochs}.pth')
    assert cfg.get('load_from') is None
    assert cfg.pseudo_labels.get('init_from_teacher', True) == (
        'scratch' not in path.name)


def test_quickstart_schedule_fits_the_embedded_dataset():
    """The 3D quick-start configs step their learning rate by iteration;
    the step and the end must follow the default dataset's size."""
    import inspect
    import math

    from mmpose_epipolar.datasets.synthetic import generate_synthetic_h36m
    defaults = {
        k: p.default
        for k, p in inspect.signature(
            generate_synthetic_h36m).parameters.items()
    }
    views = (len(defaults['train_subjects']) * len(defaults['actions']) *
             len(defaults['subactions']) * defaults['frames_per_sequence'] *
             4)
    assert views == 4800
    synthetic = CONFIG_ROOT / 'body_3d_keypoint/pose_resnet/synthetic'
    for name, iterations in (
            ('td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py', 600),
            ('td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py',
             600),
            ('td-vol_cbam-res18-wasp_selfsup-1xb16-4e_synthetic-96x96.py',
             1200)):
        cfg = Config.fromfile(str(synthetic / name))
        per_epoch = math.ceil(views / cfg.train_dataloader.batch_size)
        total = cfg.train_cfg.max_epochs * per_epoch
        step = cfg.param_scheduler[-1]
        assert not step.by_epoch and step.end == total == iterations, name
        assert step.milestones == [int(0.75 * total)], name


NAMED_SCHEDULE = [
    p for p in CONFIGS if re.search(r'-\d+e_', p.name)
]


@pytest.mark.parametrize('path', NAMED_SCHEDULE, ids=lambda p: p.name)
def test_epochs_in_the_name_are_the_schedule(path):
    """MMPose naming: `1xb16-130e` is batch 16 for 130 epochs."""
    cfg = Config.fromfile(str(path))
    epochs = int(re.search(r'-(\d+)e_', path.name).group(1))
    assert cfg.train_cfg.max_epochs == epochs
    batch = int(re.search(r'(\d+)xb(\d+)-', path.name).group(2))
    assert cfg.train_dataloader.batch_size == batch


POSE_RESNET_PAPER = [
    p for p in NAMED_SCHEDULE if p.parent.name in ('h36m', 'mpii')
]


@pytest.mark.parametrize('path', POSE_RESNET_PAPER, ids=lambda p: p.name)
def test_pose_resnet_configs_follow_the_papers_schedule(path):
    """Adam, lr 1e-3, batch 16, 130 epochs; EpipolarPose's x0.1 steps at
    90 and 120 of 140 epochs scaled to 84 and 111 of 130."""
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.train_cfg.max_epochs == 130
    step = cfg.param_scheduler[-1]
    assert step.type == 'MultiStepLR' and step.by_epoch
    assert (step.end, step.milestones, step.gamma) == (130, [84, 111], 0.1)
