"""Train a model with MMPose's own `tools/train.py`, plugin registered.

Usage: python tools/train.py CONFIG [MMPose options...]
(`python tools/train.py --help` lists them.)
"""
import os.path as osp
import sys

# Let the tool run from a checkout without `pip install -e .`.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis import run_mmpose_tool  # noqa: E402

if __name__ == '__main__':
    run_mmpose_tool('train.py')
