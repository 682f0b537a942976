"""Evaluate a checkpoint with MMPose's own `tools/test.py`, plugin registered.

Usage: python tools/test.py CONFIG CHECKPOINT [MMPose options...]
(`python tools/test.py --help` lists them.)
"""
import os.path as osp
import sys

# Let the tool run from a checkout without `pip install -e .`.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis import run_mmpose_tool  # noqa: E402

if __name__ == '__main__':
    run_mmpose_tool('test.py')
