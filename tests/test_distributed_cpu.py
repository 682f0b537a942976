"""Distributed training and testing through ``tools/dist_train.sh`` and
``tools/dist_test.sh`` (torchrun), here on CPU processes with gloo."""
import argparse
import os
import re
import subprocess
import sys

import pytest
import torch
from _dist import (
    SYNTHETIC_CONFIG,
    dist_test,
    dist_train,
    tiny_synthetic_options,
)
from mmengine.config import DictAction

from mmpose_epipolar.apis.mmpose_tools import cpu_distributed_options

needs_cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the CPU-only setup')


def _test_tool_parser() -> argparse.ArgumentParser:
    """The arguments of MMPose's test.py that matter here."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none')
    return parser


def test_cpu_options_are_added_only_for_a_launcher_without_cuda():
    argv = ['cfg.py', 'ckpt.pth', '--launcher', 'pytorch']
    assert cpu_distributed_options(argv, cuda_available=True) == argv
    assert cpu_distributed_options(['cfg.py', 'ckpt.pth'],
                                   cuda_available=False) == [
                                       'cfg.py', 'ckpt.pth']
    args = _test_tool_parser().parse_args(
        cpu_distributed_options(argv, cuda_available=False))
    assert (args.config, args.checkpoint) == ('cfg.py', 'ckpt.pth')
    assert args.cfg_options == {
        'env_cfg.dist_cfg.backend': 'gloo',
        'model_wrapper_cfg.device_ids': None,
        'model_wrapper_cfg.broadcast_buffers': False,
    }


def test_the_users_cfg_options_win():
    argv = ['cfg.py', 'ckpt.pth', '--launcher=pytorch', '--cfg-options',
            'env_cfg.dist_cfg.backend=mpi', 'train_cfg.max_epochs=3']
    args = _test_tool_parser().parse_args(
        cpu_distributed_options(argv, cuda_available=False))
    assert args.cfg_options['env_cfg.dist_cfg.backend'] == 'mpi'
    assert args.cfg_options['train_cfg.max_epochs'] == 3
    assert args.cfg_options['model_wrapper_cfg.device_ids'] is None


@needs_cpu_only
def test_set_device_is_a_no_op_without_cuda():
    # MMEngine's launcher calls this with LOCAL_RANK before anything else.
    torch.cuda.set_device(1)


# A gloo group kept alive by a DDP wrapper in a reference cycle, as the
# runner keeps it after MMPose's tool returns; the OS thread count before
# the group and after the release must match (the gloo workers joined).
# 'explicit' calls the release; 'at_exit' leaves it to the function the
# plugin's import registered: `report`, registered before that import,
# runs after it (atexit is last in, first out).
RELEASE_SCRIPT = """
import atexit, os, sys
import torch

def threads():
    return len(os.listdir('/proc/self/task'))

def report():
    print(before, during, threads(), torch.distributed.is_initialized())

atexit.register(report)
from mmpose_epipolar.utils import release_process_group

before = threads()
torch.distributed.init_process_group(
    'gloo', init_method='file://' + sys.argv[1], rank=0, world_size=1)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
model.cycle = model
torch.distributed.all_reduce(torch.ones(3))
del model
during = threads()
if sys.argv[2] == 'explicit':
    release_process_group()
    release_process_group()  # nothing left to release: a no-op
"""


@pytest.mark.skipif(not os.path.isdir('/proc/self/task'),
                    reason='counts threads in /proc')
@pytest.mark.parametrize('release', ['explicit', 'at_exit'])
def test_the_process_group_and_its_gloo_workers_are_released(
        tmp_path, release):
    proc = subprocess.run(
        [sys.executable, '-c', RELEASE_SCRIPT, str(tmp_path / 'store'),
         release],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:]
    before, during, after, initialized = proc.stdout.split()[-4:]
    assert int(during) > int(before)  # gloo started its threads
    assert (int(after), initialized) == (int(before), 'False')


def test_the_release_at_exit_is_registered_once():
    from mmpose_epipolar.utils import release_process_group_at_exit
    assert not release_process_group_at_exit()  # done by the import


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two processes, 2 training iterations each, then validation."""
    tmp = tmp_path_factory.mktemp('dist')
    options = tiny_synthetic_options(tmp / 'h36m')
    proc = dist_train(SYNTHETIC_CONFIG, tmp / 'work', options, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return tmp, options, proc.stdout


def _mpjpe(output: str) -> float:
    found = re.findall(r'h36m/MPJPE: (\d+\.\d+)', output)
    assert len(found) == 1, output[-2000:]
    return float(found[0])


@needs_cpu_only
def test_two_cpu_processes_train_and_rank_0_saves(trained):
    tmp, _, output = trained
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output
    assert "dist_cfg: {'backend': 'gloo'}" in output
    # 8 views, 4 a rank, batches of 2: one process alone would take 4.
    assert 'Epoch(train) [1][2/2]' in output
    assert 'Epoch(train) [1][3/' not in output
    assert 'MPJPE over 8 samples' in output  # both ranks' halves
    assert sorted(p.name for p in (tmp / 'work').glob('*.pth')) == [
        'epoch_1.pth']
    state = torch.load(tmp / 'work' / 'epoch_1.pth', map_location='cpu')
    assert state['meta']['iter'] == 2


@needs_cpu_only
def test_dist_test_gives_the_validation_numbers(trained):
    tmp, options, output = trained
    proc = dist_test(SYNTHETIC_CONFIG, tmp / 'work' / 'epoch_1.pth',
                     tmp / 'test', options, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'GPU number: 2' in proc.stdout
    assert 'MPJPE over 8 samples' in proc.stdout
    assert _mpjpe(proc.stdout) == _mpjpe(output) > 0
