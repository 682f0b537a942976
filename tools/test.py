"""Evaluate a checkpoint with MMPose's own `tools/test.py`, plugin registered.

Usage: python tools/test.py CONFIG CHECKPOINT [MMPose options...]
(`python tools/test.py --help` lists them.)
With `--launcher` (tools/dist_*.sh) and no CUDA device, the processes run
on the CPU: gloo and a DDP wrapper without device ids are added to the
config (`mmpose_epipolar.apis.mmpose_tools.cpu_distributed_options`).
"""
import os.path as osp
import sys

# Let the tool run from a checkout without `pip install -e .`.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis import run_mmpose_tool  # noqa: E402

if __name__ == '__main__':
    run_mmpose_tool('test.py')
