"""Run the whole self-supervised pipeline of a config, stage by stage.

    python tools/selfsup_pipeline.py SELFSUP_CONFIG [--work-dir DIR]
        [--cfg-options k=v ...] [--stage1-options k=v ...]

Stage 1 trains the 2D network of ``selfsup_pipeline.pretrain_config``;
stage 2 predicts 2D on every training view and triangulates pseudo-labels;
stage 3 trains the 3D network from the stage-1 weights on them. Stages whose
output exists are skipped and interrupted training resumes, so the command
can be run again. See ``mmpose_epipolar/apis/selfsup_pipeline.py``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis.selfsup_pipeline import run_pipeline  # noqa: E402

if __name__ == '__main__':
    run_pipeline()
