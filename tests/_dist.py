"""Launch ``tools/dist_train.sh`` from a test: N processes on this machine
(gloo on the CPU without CUDA), a free port each run.

Usage in a test::

    from _dist import dist_train, tiny_synthetic_options

    proc = dist_train(CONFIG, tmp_path / 'work',
                      tiny_synthetic_options(tmp_path / 'data'))
    assert proc.returncode == 0, proc.stdout[-4000:]

(``tests/`` is on ``sys.path`` through its ``conftest.py``.)
"""
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Union

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
# One subject, one action, 2 frames: 8 training views (4 cameras x 2) and
# 8 test views (S9), 128 x 128 images.
TINY_GENERATOR = ("generator_cfg.train_subjects=('S1',)",
                  "generator_cfg.test_subjects=('S9',)",
                  "generator_cfg.actions=('Directions',)",
                  'generator_cfg.frames_per_sequence=2', 'image_size=128')


def free_port() -> int:
    """A TCP port nothing listens on now (for torchrun's ``PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tiny_synthetic_options(data_root: Union[str, Path],
                           batch_size: int = 2,
                           epochs: int = 1) -> List[str]:
    """``--cfg-options`` values for a synthetic config on the tiny dataset.

    With 2 processes and ``batch_size=2``: 2 iterations a rank per epoch
    (8 views, 4 a rank), validation on the 8 test views at the end, no
    dataloader workers, checkpoints without ``save_best``.

    Args:
        data_root (str | Path): Folder the dataset is generated into (rank
            0 generates, the other ranks wait and reuse it).
        batch_size (int): Samples per rank and iteration.
        epochs (int): Training epochs.

    Returns:
        list[str]: ``key=value`` strings.
    """
    options = [
        f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
        f'train_dataloader.batch_size={batch_size}',
        f'val_dataloader.batch_size={batch_size}',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.save_best=None'
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
            f'{loader}.dataset.data_root={data_root}'
        ]
        options += [f'{loader}.dataset.{item}' for item in TINY_GENERATOR]
    return options


def _run(args: List[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a ``tools/dist_*.sh`` command line with a free port."""
    env = dict(
        os.environ,
        PORT=str(free_port()),
        PYTHON=sys.executable,
        PYTHONWARNINGS='ignore',
        # Ranks share the few cores; torchrun sets this too, with a warning.
        OMP_NUM_THREADS='1')
    return subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)


def dist_train(config: Union[str, Path],
               work_dir: Union[str, Path],
               cfg_options: Sequence[str] = (),
               nproc: int = 2,
               extra_args: Sequence[str] = (),
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``bash tools/dist_train.sh CONFIG NPROC`` and wait for it.

    Args:
        config (str | Path): Config path (relative to the repository root,
            or absolute).
        work_dir (str | Path): ``--work-dir``.
        cfg_options (sequence of str): ``--cfg-options`` values; none when
            empty.
        nproc (int): Processes (torchrun's ``--nproc_per_node``).
        extra_args (sequence of str): Further ``train.py`` options, e.g.
            ``('--resume',)``.
        timeout (float): Seconds before the run is killed
            (``subprocess.TimeoutExpired``): a rank stuck at a barrier
            fails the test instead of hanging it.

    Returns:
        subprocess.CompletedProcess: ``returncode``, and ``stdout`` with
        stdout and stderr of all ranks interleaved.
    """
    args = ['bash', 'tools/dist_train.sh', str(config), str(nproc),
            '--work-dir', str(work_dir), *extra_args]
    if cfg_options:
        args += ['--cfg-options', *cfg_options]
    return _run(args, timeout)


def dist_test(config: Union[str, Path],
              checkpoint: Union[str, Path],
              work_dir: Union[str, Path],
              cfg_options: Sequence[str] = (),
              nproc: int = 2,
              extra_args: Sequence[str] = (),
              timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``bash tools/dist_test.sh CONFIG CHECKPOINT NPROC``; arguments
    and result as :func:`dist_train`."""
    args = ['bash', 'tools/dist_test.sh', str(config), str(checkpoint),
            str(nproc), '--work-dir', str(work_dir), *extra_args]
    if cfg_options:
        args += ['--cfg-options', *cfg_options]
    return _run(args, timeout)
