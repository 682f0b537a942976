"""Run the whole self-supervised pipeline of a config, stage by stage.

    python tools/selfsup_pipeline.py SELFSUP_CONFIG [--work-dir DIR]
        [--cfg-options k=v ...] [--stage1-options k=v ...]

Stage 1 trains the 2D network of ``selfsup_pipeline.pretrain_config``;
stage 2 predicts 2D on every training view and triangulates pseudo-labels;
stage 3 trains the 3D network from the stage-1 weights on them. Stages whose
output exists are skipped and interrupted training resumes, so the command
can be run again. See ``mmpose_epipolar/apis/selfsup_pipeline.py``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis.selfsup_pipeline import run_pipeline  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
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


def main(argv: Optional[List[str]] = None) -> Dict[str, str]:
    args = parse_args(argv)
    return run_pipeline(args.config, work_dir=args.work_dir,
                        cfg_options=args.cfg_options,
                        stage1_options=args.stage1_options)


if __name__ == '__main__':
    main()
