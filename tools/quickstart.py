"""The quick start: generate the embedded dataset, train, evaluate.

Runs on CPU with no download: the synthetic multi-view dataset is generated
into ``data/synthetic_h36m/`` (reused when present), the CPU-sized Pose
ResNet trains on it with full 3D supervision, and the test split (subjects
S9 and S11) is evaluated, next to the mean-pose baseline.

Usage:
    python tools/quickstart.py [--epochs N] [--work-dir DIR] [--data-root DIR]
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose_epipolar  # noqa: E402,F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(
    ROOT, 'configs/body_3d_keypoint/pose_resnet/synthetic/'
    'td-vol_cbam-res18-wasp_1xb16-5e_synthetic-96x96.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=None,
                        help='training epochs (default: the config\'s)')
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--data-root', default='data/synthetic_h36m')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmpose_epipolar.evaluation.baselines import mean_pose_errors

    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = args.data_root
    if args.epochs:
        cfg.train_cfg.max_epochs = args.epochs
        cfg.train_cfg.val_interval = args.epochs
    cfg.default_hooks.checkpoint.save_best = None

    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    baseline = mean_pose_errors(runner.train_dataloader.dataset,
                                runner.test_dataloader.dataset)

    print(f'\nQuick start finished in {time.time() - start:.0f} s; '
          f'checkpoints and logs in {osp.abspath(args.work_dir)}')
    print(f'{"model (synthetic test split)":34s} {"MPJPE":>8s} '
          f'{"P-MPJPE":>8s} {"N-MPJPE":>8s}   (mm)')
    print(f'{"mean-pose baseline":34s} {baseline["MPJPE"]:8.1f} '
          f'{baseline["P-MPJPE"]:8.1f} {baseline["N-MPJPE"]:8.1f}')
    print(f'{"Pose ResNet, fully supervised":34s} '
          f'{metrics["h36m/MPJPE"]:8.1f} {metrics["h36m/P-MPJPE"]:8.1f} '
          f'{metrics["h36m/N-MPJPE"]:8.1f}')


if __name__ == '__main__':
    main()
