"""End to end through the command-line tools, as a user runs them."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _dist import tiny_synthetic_options

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
          'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
H36M_CONFIG = ('configs/body_3d_keypoint/pose_resnet/h36m/'
               'td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py')


def tiny_options(data_root, epochs=1):
    """8 training views in 2 iterations of 4; 8 test views; no workers."""
    return tiny_synthetic_options(data_root, batch_size=4, epochs=epochs)


def run(args, cwd=ROOT, check=True):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{output[-4000:]}')
    return proc.returncode, output


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two training iterations with tools/train.py."""
    work = tmp_path_factory.mktemp('work')
    data_root = tmp_path_factory.mktemp('synthetic') / 'h36m'
    _, output = run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work), '--cfg-options', *tiny_options(data_root)
    ])
    return work, data_root, output


def test_train_runs_two_iterations_and_saves(trained):
    work, _, output = trained
    assert 'Epoch(train) [1][2/2]' in output
    assert (work / 'epoch_1.pth').is_file()
    assert re.search(r'h36m/MPJPE: \d+\.\d+', output)


def test_test_tool_evaluates_the_checkpoint(trained):
    work, data_root, _ = trained
    _, output = run([
        sys.executable, 'tools/test.py', CONFIG,
        str(work / 'epoch_1.pth'), '--work-dir',
        str(work / 'test'), '--cfg-options', *tiny_options(data_root)
    ])
    for name in ('MPJPE', 'P-MPJPE', 'N-MPJPE'):
        value = re.search(rf'h36m/{name}: (\d+\.\d+)', output)
        assert value and float(value.group(1)) > 0, output[-2000:]


def test_resume_continues_from_the_last_checkpoint(trained):
    work, data_root, _ = trained
    _, output = run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work), '--resume', '--cfg-options',
        *tiny_options(data_root, epochs=2)
    ])
    assert 'resumed epoch: 1' in output
    assert 'Epoch(train) [2][2/2]' in output
    assert 'Epoch(train) [1][' not in output
    assert (work / 'epoch_2.pth').is_file()


def test_mim_train_and_test(trained, tmp_path):
    mim = Path(sys.executable).with_name('mim')
    if not mim.exists():
        pytest.skip('openmim is not installed')
    _, data_root, _ = trained
    run([
        str(mim), 'train', 'mmpose', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', *tiny_options(data_root)
    ])
    assert (tmp_path / 'epoch_1.pth').is_file()
    _, output = run([
        str(mim), 'test', 'mmpose', CONFIG, '--checkpoint',
        str(tmp_path / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *tiny_options(data_root)
    ])
    assert re.search(r'h36m/P-MPJPE: \d+\.\d+', output)


def test_missing_data_file_is_named(tmp_path):
    code, output = run([
        sys.executable, 'tools/test.py', H36M_CONFIG,
        str(tmp_path / 'none.pth'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path}/h36m',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'model.backbone.init_cfg=None'
    ], check=False)
    assert code != 0
    assert 'h36m_test.npz' in output


def test_wrong_config_key_is_named(trained, tmp_path):
    _, data_root, _ = trained
    code, output = run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', *tiny_options(data_root),
        'model.head.depth_binz=8'
    ], check=False)
    assert code != 0
    assert 'depth_binz' in output


def load_quickstart():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'quickstart', ROOT / 'tools' / 'quickstart.py')
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    return quickstart


def flat(tree, prefix=''):
    """``{'a.b': value}`` of nested dicts."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for key, value in tree.items():
        out.update(flat(value, f'{prefix}{key}.'))
    return out


def test_quickstart_float32_changes_only_the_precision():
    quickstart = load_quickstart()
    selfsup, stage1, supervised = quickstart.load_configs()
    changed = {}
    for name, cfg in (('selfsup', selfsup), ('stage1', stage1),
                      ('supervised', supervised)):
        before = flat(cfg.to_dict())
        quickstart.use_float32(cfg)
        after = flat(cfg.to_dict())
        changed[name] = {
            key: (before.get(key), after.get(key))
            for key in set(before) | set(after)
            if before.get(key) != after.get(key)
        }
    loops = {
        'val_cfg.fp16.': (True, None),
        'test_cfg.fp16.': (True, None),
        'optim_wrapper.type.': ('BF16OptimWrapper', 'OptimWrapper')
    }
    assert changed['stage1'] == loops
    assert changed['supervised'] == loops
    assert changed['selfsup'] == dict(loops,
                                      **{'pseudo_labels.amp.': (True, False)})


@pytest.mark.parametrize('cuda,native,precision', [
    (False, False, 'fp32'), (False, True, 'bf16'), (True, False, 'bf16')])
def test_quickstart_auto_precision(monkeypatch, cuda, native, precision):
    import torch

    import mmpose_epipolar.utils
    quickstart = load_quickstart()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(mmpose_epipolar.utils, 'cpu_has_native_bf16',
                        lambda: native)
    assert quickstart.resolve_precision('auto') == precision
    assert quickstart.resolve_precision('fp32') == 'fp32'
    assert quickstart.resolve_precision('bf16') == 'bf16'


def test_quickstart_replaces_stale_data_and_sets_old_outputs_aside(
        tmp_path):
    import json
    quickstart = load_quickstart()
    from mmpose_epipolar.datasets.synthetic import GENERATOR_VERSION
    from mmpose_epipolar.datasets.synthetic.generator import (
        _normalise_params,
    )

    data, work = tmp_path / 'data', tmp_path / 'work'
    data.mkdir()
    (work / 'stage1_2d').mkdir(parents=True)
    cfg = dict(actions=('Walking', 'Sitting'), frames_per_sequence=3)
    params = _normalise_params(0, ('S1', 'S5', 'S6', 'S7', 'S8'),
                               ('S9', 'S11'), cfg['actions'], (1, ), 3, 2,
                               256, 8)
    meta = dict(generator='mmpose_epipolar.datasets.synthetic',
                version=GENERATOR_VERSION, params=params)
    (data / 'meta.json').write_text(json.dumps(meta))
    assert not quickstart.refresh_stale_data(str(data), str(work), cfg)
    assert (work / 'stage1_2d').is_dir()

    # Data made with other parameters (48 frames a sequence, not 3).
    assert quickstart.refresh_stale_data(str(data), str(work),
                                         dict(cfg, frames_per_sequence=48))
    assert not work.exists()
    assert (tmp_path / 'work.old-data' / 'stage1_2d').is_dir()

    (work / 'stage1_2d').mkdir(parents=True)
    (data / 'meta.json').write_text(json.dumps(dict(meta, version='0.9')))
    assert quickstart.refresh_stale_data(str(data), str(work), cfg)
    assert len(list(tmp_path.glob('work.old-data-*'))) == 1
    # Nothing to set aside the second time; the data still need replacing.
    assert quickstart.refresh_stale_data(str(data), str(work), cfg)
    # Another program's folder is not ours to replace.
    (data / 'meta.json').write_text(json.dumps(dict(meta, generator='x')))
    assert not quickstart.refresh_stale_data(str(data), str(work), cfg)


def test_quickstart_timings_carry_the_cpu_and_print_it(tmp_path, capsys):
    import json
    quickstart = load_quickstart()
    cpu = dict(model='AMD EPYC 9B14', capability='AVX512',
               bf16_kernels='AVX-512 BF16', cores=2)
    clock = quickstart.StageClock()
    with clock.stage('data'):
        pass
    timings = clock.save(str(tmp_path / 'timings.json'), 'bf16', cpu)
    assert json.loads((tmp_path / 'timings.json').read_text())['cpu'] == cpu
    quickstart.print_table({}, str(tmp_path), timings)
    assert ('CPU: AMD EPYC 9B14, 2 cores, kernels AVX512, native bfloat16: '
            'AVX-512 BF16') in capsys.readouterr().out
