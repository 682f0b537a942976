import os.path as osp
from pathlib import Path

import pytest

import mmpose_epipolar  # noqa: F401  (compat fixes + registration first)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'


@pytest.fixture(autouse=True)
def mmpose_scope():
    """Build configs in MMPose's registry scope, as the Runner does: before
    every test, since mmdet's detector API switches the process to its own
    scope."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """The shared real-data samples (``../shared/data``), or skip."""
    if not osp.isdir(SHARED_DATA):
        pytest.skip(f'shared data folder {SHARED_DATA} is missing')
    return SHARED_DATA


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT
