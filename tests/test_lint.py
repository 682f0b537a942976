import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name('ruff')
    if not ruff.exists():
        ruff = shutil.which('ruff')
    if not ruff:
        pytest.skip('ruff is not installed (pip install -e .[dev])')
    proc = subprocess.run(
        [str(ruff), 'check', 'mmpose_epipolar', 'tools', 'tests',
         'benchmarks', 'demo', 'configs'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
