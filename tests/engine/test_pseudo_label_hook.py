"""PseudoLabelHook: self-supervised training from a plain training command,
with labels built, reused, rebuilt or refused as their inputs say."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _dist import dist_train, tiny_synthetic_options
from mmengine.config import Config

from mmpose_epipolar.datasets.pseudo_label_file import (
    LABEL_KEYS,
    load_pseudo_labels,
    save_pseudo_labels,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/poseresnet_synthetic_selfsup.py'
STAGE1 = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
          'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')
TINY_DATA = dict(
    image_size=128,
    generator_cfg=dict(train_subjects=('S1', ), test_subjects=('S9', ),
                       actions=('Directions', ), frames_per_sequence=2))


def tiny_options(data_root):
    """8 training views (2 frames x 4 cameras), one epoch, no workers."""
    return tiny_synthetic_options(data_root, batch_size=4)


def save_teacher(path, seed):
    """A stage-1 network (random weights): the hook's mechanics do not
    depend on how good its 2D is."""
    from mmpose.registry import MODELS
    cfg = Config.fromfile(str(ROOT / STAGE1))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def train(args, cwd=ROOT, launcher=(sys.executable, 'tools/train.py')):
    # One thread, as torchrun gives each rank: CPU kernels sum in another
    # order with other thread counts (float32 last-bit differences).
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run([*launcher, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('hook')
    data_root = tmp / 'h36m'
    teacher = save_teacher(tmp / 'stage1.pth', 0)
    labels = tmp / 'labels.npz'
    # Teacher batches of 2: under torchrun both ranks predict some.
    hook = [f'pseudo_labels.teacher_checkpoint={teacher}',
            f'pseudo_labels.label_file={labels}',
            'pseudo_labels.batch_size=2']
    return tmp, tiny_options(data_root) + hook, teacher, labels


def test_train_builds_the_labels_then_reuses_them(setup):
    tmp, options, teacher, labels = setup
    rc, out = train([CONFIG, '--work-dir', str(tmp / 'w1'),
                     '--cfg-options', *options])
    assert rc == 0, out[-3000:]
    assert 'PseudoLabelHook: building labels' in out
    assert 'the file does not exist' in out
    assert 'initialised from the teacher checkpoint' in out
    assert (tmp / 'w1' / 'epoch_1.pth').is_file()
    data = load_pseudo_labels(str(labels))
    assert len(data['imgname']) == 8
    fingerprint = data['meta']['fingerprint']
    assert fingerprint['dataset']['num_views'] == 8
    assert fingerprint['labels']['reproj_thresh'] == 4.0
    assert len(fingerprint['teacher_checkpoint']) == 64
    mtime = labels.stat().st_mtime_ns

    rc, out = train([CONFIG, '--work-dir', str(tmp / 'w2'),
                     '--cfg-options', *options])
    assert rc == 0, out[-3000:]
    assert f'PseudoLabelHook: reusing {labels}' in out
    assert labels.stat().st_mtime_ns == mtime


def test_changed_engine_option_is_refused_or_rebuilt(setup):
    tmp, options, teacher, labels = setup
    if not labels.exists():
        pytest.skip('needs the labels of the first test')
    changed = options + ['pseudo_labels.engine.threshold_px=2.0']
    rc, out = train([CONFIG, '--work-dir', str(tmp / 'w3'), '--cfg-options',
                     *changed, 'pseudo_labels.on_mismatch=error'])
    assert rc != 0
    assert "made from another engine options than this run's" in out
    assert "pseudo_labels.on_mismatch='error'" in out


def test_torchrun_labels_equal_one_process(setup):
    """Two CPU processes (gloo): rank 0 builds the labels once, from both
    ranks' predictions, and they equal the single-process file; training
    then runs on both ranks."""
    tmp, options, teacher, labels = setup
    if not labels.exists():
        pytest.skip('needs the labels of the first test')
    dist_labels = tmp / 'dist_labels.npz'
    dist_options = [o for o in options
                    if not o.startswith('pseudo_labels.label_file=')]
    dist_options += [f'pseudo_labels.label_file={dist_labels}',
                     'train_dataloader.batch_size=2']
    proc = dist_train(CONFIG, tmp / 'dist', dist_options)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert proc.stdout.count(f'PseudoLabelHook: wrote {dist_labels}') == 1
    assert 'Epoch(train) [1][2/2]' in proc.stdout
    assert (tmp / 'dist' / 'epoch_1.pth').is_file()
    one, two = load_pseudo_labels(str(labels)), load_pseudo_labels(
        str(dist_labels))
    # The teacher's 2D (a random network's: nothing to triangulate, but
    # real numbers) is the same from both ranks' shares as from one.
    assert np.isfinite(one['input_keypoints']).all()
    assert one['input_keypoints'][..., :2].std() > 0
    for key in LABEL_KEYS + ('input_keypoints', ):
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    assert one['meta']['fingerprint'] == two['meta']['fingerprint']


def test_mim_train_runs_the_same_config(setup):
    tmp, options, teacher, labels = setup
    rc, out = train([CONFIG, '--work-dir', str(tmp / 'mim'), '--launcher',
                     'none', '--cfg-options', *options],
                    launcher=(sys.executable, '-m', 'mim', 'train',
                              'mmpose'))
    assert rc == 0, out[-3000:]
    assert 'PseudoLabelHook' in out
    assert (tmp / 'mim' / 'epoch_1.pth').is_file()


# In-process: the hook's decisions and the labels it writes ---------------


@pytest.fixture
def runner(tmp_path):
    """A Runner of the short config on the tiny dataset (not trained)."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(ROOT / CONFIG))
    cfg.merge_from_dict(dict(
        work_dir=str(tmp_path / 'work'),
        pseudo_labels=dict(
            teacher_checkpoint=str(save_teacher(tmp_path / 't.pth', 0)),
            label_file=str(tmp_path / 'labels.npz')),
        train_dataloader=dict(num_workers=0, persistent_workers=False,
                              dataset=dict(data_root=str(tmp_path / 'h36m'),
                                           **TINY_DATA))))
    cfg.pop('val_dataloader'), cfg.pop('val_cfg'), cfg.pop('val_evaluator')
    cfg.visualizer.name = f'visualizer@{tmp_path}'
    return Runner.from_cfg(cfg)


def hook_of(runner):
    from mmpose_epipolar.engine.hooks import PseudoLabelHook
    return next(h for h in runner.hooks if isinstance(h, PseudoLabelHook))


def ground_truth_teacher(runner, monkeypatch, noise_px=1.0):
    """The teacher predicts the true 2D of every view plus noise: what the
    hook then writes must be the epipolar labels of that 2D."""
    from mmpose.registry import DATASETS

    import mmpose_epipolar.engine.hooks.pseudo_label_hook as module
    data = dict(runner.cfg.train_dataloader.dataset)
    gt_set = DATASETS.build(dict(data, mode='supervised', pipeline=[]))
    rng = np.random.default_rng(0)

    def predict_views(model, dataset, batches, progress=False, amp=False):
        out = {}
        for index in (i for b in batches for i in b):
            kp = gt_set.get_data_info(index)['keypoints'][0]
            kp = kp + rng.normal(0, noise_px, kp.shape)
            out[index] = np.concatenate([kp, np.ones((len(kp), 1))], -1)
        return out

    monkeypatch.setattr(module, 'predict_views', predict_views)
    return gt_set


def test_labels_from_a_good_teacher_are_right(runner, monkeypatch):
    from mmpose_epipolar.evaluation import pseudo_label_errors
    gt_set = ground_truth_teacher(runner, monkeypatch)
    state = torch.random.get_rng_state()
    hook_of(runner).before_train(runner)
    assert torch.equal(torch.random.get_rng_state(), state)
    errors = pseudo_label_errors(runner.cfg.pseudo_labels.label_file,
                                 gt_set)
    assert errors['valid_fraction'] == 1.0
    # 4 views, 1 px noise, only 2 frames to pose the rig from.
    assert errors['MPJPE'] < 60 and errors['P-MPJPE'] < 40
    # The model now holds the teacher's weights (load_from is unset).
    teacher = torch.load(runner.cfg.pseudo_labels.teacher_checkpoint,
                         weights_only=True)['state_dict']
    name = 'backbone.conv1.weight'
    assert torch.equal(runner.model.state_dict()[name], teacher[name])


def test_another_teacher_rebuilds(runner, monkeypatch, tmp_path):
    ground_truth_teacher(runner, monkeypatch)
    hook = hook_of(runner)
    hook.before_train(runner)
    label_file = runner.cfg.pseudo_labels.label_file
    first = load_pseudo_labels(label_file)['meta']['fingerprint']
    runner.cfg.pseudo_labels.teacher_checkpoint = str(
        save_teacher(tmp_path / 'other.pth', 1))
    messages = []
    monkeypatch.setattr(runner.logger, 'info', messages.append)
    hook.before_train(runner)
    assert any("made from another teacher checkpoint than this run's" in m
               for m in messages), messages
    second = load_pseudo_labels(label_file)['meta']['fingerprint']
    assert second['teacher_checkpoint'] != first['teacher_checkpoint']
    assert {k: v for k, v in second.items() if k != 'teacher_checkpoint'} \
        == {k: v for k, v in first.items() if k != 'teacher_checkpoint'}


def test_missing_inputs_name_the_config_key(runner, tmp_path):
    hook = hook_of(runner)
    runner.cfg.pseudo_labels.teacher_checkpoint = str(tmp_path / 'no.pth')
    with pytest.raises(FileNotFoundError,
                       match=r'pseudo_labels\.teacher_checkpoint.*no\.pth'):
        hook.before_train(runner)
    del runner.cfg.pseudo_labels['label_file']
    with pytest.raises(KeyError, match=r'pseudo_labels\.label_file'):
        hook.before_train(runner)
    runner.cfg.pseudo_labels.label_file = str(tmp_path / 'l.npz')
    runner.cfg.pseudo_labels.views = 1
    with pytest.raises(ValueError, match=r'pseudo_labels\.views'):
        hook.before_train(runner)


def test_a_dataset_without_multi_view_frames_is_an_error(runner,
                                                          monkeypatch):
    import mmpose_epipolar.engine.hooks.pseudo_label_hook as module
    ground_truth_teacher(runner, monkeypatch)
    real = module.dataset_camera_sets

    def one_camera(infos, min_views):
        first = infos[0]['camera_id']
        return real([i for i in infos if i['camera_id'] == first],
                    min_views)

    monkeypatch.setattr(module, 'dataset_camera_sets', one_camera)
    with pytest.raises(ValueError, match=r'no frame seen by at least 2'):
        hook_of(runner).before_train(runner)
    assert not Path(runner.cfg.pseudo_labels.label_file).exists()


def test_an_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / 'labels.npz'
    labels = {k: np.zeros((2, 3)) for k in LABEL_KEYS}
    labels['imgname'] = np.array(['a.jpg', 'b.jpg'])
    real = np.savez_compressed

    def interrupted(f, **arrays):
        real(f, **arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(np, 'savez_compressed', interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_pseudo_labels(str(out), labels, {})
    assert list(tmp_path.iterdir()) == []


def test_teacher_joint_layouts(runner, monkeypatch):
    """A COCO-17 teacher's 2D is converted to the dataset's H36M-16; a
    layout with no conversion is refused naming the config key."""
    import mmpose_epipolar.engine.hooks.pseudo_label_hook as module
    from mmpose_epipolar.datasets.joint_layouts import COCO17_TO_H36M16
    gt_set = ground_truth_teacher(runner, monkeypatch, noise_px=0.0)
    h36m16 = module.predict_views

    def coco17(model, dataset, batches, progress=False, amp=False):
        out = {}
        for index, kp in h36m16(model, dataset, batches).items():
            coco = np.full((17, 3), np.nan)
            for target, source in enumerate(COCO17_TO_H36M16):
                for src in np.atleast_1d(source):
                    coco[src] = kp[target]  # copied joints win later
            coco[:, 2] = 1.0
            out[index] = coco
        return out

    monkeypatch.setattr(module, 'predict_views', coco17)
    runner.cfg.pseudo_labels.teacher_layout = 'coco17'
    hook_of(runner).before_train(runner)
    from mmpose_epipolar.evaluation import pseudo_label_errors
    errors = pseudo_label_errors(runner.cfg.pseudo_labels.label_file, gt_set)
    assert errors['valid_fraction'] == 1.0 and errors['MPJPE'] < 5

    monkeypatch.setattr(module, 'predict_views',
                        lambda m, d, b, progress=False, amp=False: {
                            i: np.ones((21, 3)) for x in b for i in x})
    runner.cfg.pseudo_labels.teacher_layout = None
    runner.cfg.pseudo_labels.engine = dict(threshold_px=2.0)  # rebuild
    with pytest.raises(ValueError, match=r'21 joints.*pseudo_labels\.'
                       r'teacher_layout'):
        hook_of(runner).before_train(runner)


def test_an_mmpose_coco_teacher_runs_through_the_layout_conversion(
        runner, tmp_path):
    """A real MMPose top-down COCO-17 model (its own config and test
    pipeline; random weights) as the teacher: its 2D is inferred to be
    COCO-17 from its dataset metainfo and converted to H36M-16."""
    from mmengine.hub import get_config
    from mmpose.registry import MODELS
    name = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
            'td-hm_res50_8xb64-210e_coco-256x192.py')
    teacher_cfg = get_config(name)
    teacher_cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(teacher_cfg.model)
    checkpoint = tmp_path / 'coco_teacher.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    runner.cfg.pseudo_labels.update(teacher_config=name,
                                    teacher_checkpoint=str(checkpoint))
    hook_of(runner).before_train(runner)
    labels = load_pseudo_labels(runner.cfg.pseudo_labels.label_file)
    assert labels['input_keypoints'].shape == (8, 16, 3)
    assert labels['meta']['num_joints'] == 16


def test_bf16_teacher_predicts_what_fp32_does(runner):
    """``amp``: the teacher's forward pass under CPU autocast (bfloat16)
    gives the float32 2D to a fraction of a pixel, and the option is part
    of the labels' fingerprint (a file made the other way is rebuilt)."""

    from mmpose_epipolar.apis.inference import init_model
    from mmpose_epipolar.apis.teacher import fixed_batches, predict_views
    hook = hook_of(runner)
    hook._resolve(runner)
    assert hook.amp is False
    teacher_cfg = hook._teacher_cfg(runner)
    dataset = hook._teacher_dataset(runner, teacher_cfg)
    model = init_model(teacher_cfg, hook.teacher_checkpoint, device='cpu')
    batches = fixed_batches(len(dataset), 4)
    fp32 = predict_views(model, dataset, batches)
    bf16 = predict_views(model, dataset, batches, amp=True)
    diff = np.abs(np.stack([fp32[i][:, :2] - bf16[i][:, :2] for i in fp32]))
    assert 0 < diff.max() < 0.5  # pixels of 128 x 128 images

    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    plain = hook._fingerprint(runner, infos, teacher_cfg)
    runner.cfg.pseudo_labels.amp = True
    hook._resolve(runner)
    assert hook.amp is True
    assert hook._fingerprint(runner, infos, teacher_cfg)['labels'] == \
        dict(plain['labels'], amp=True)


def test_teacher_flip_test_option_sets_only_the_teachers(runner):
    """``flip_test`` overrides the teacher's test-time flip (not the
    trained model's), and a file made the other way is rebuilt: the option
    is in the fingerprint's teacher model."""
    hook = hook_of(runner)
    hook._resolve(runner)
    default = hook._teacher_cfg(runner)
    assert hook.flip_test is None
    assert default.model.test_cfg.flip_test is True
    runner.cfg.pseudo_labels.flip_test = False
    hook._resolve(runner)
    plain = hook._teacher_cfg(runner)
    assert plain.model.test_cfg.flip_test is False
    assert runner.cfg.model.test_cfg.flip_test is True
    dataset = hook._teacher_dataset(runner, plain)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert hook._fingerprint(runner, infos, plain)['teacher_model'] != \
        hook._fingerprint(runner, infos, default)['teacher_model']
