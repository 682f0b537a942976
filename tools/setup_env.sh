#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the pinned
# OpenMMLab stack into it.  Idempotent: a second run only checks.
#
#   VENV=.venv bash tools/setup_env.sh          # default location
#
# The order matters: torch must be installed before mmcv is built, and mmcv
# must be built without build isolation, or its setup.py silently skips the
# compiled ops.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
STAMP="$VENV/.mmpose_epipolar_installed"

if [ -f "$STAMP" ] && [ "$STAMP" -nt "$ROOT/pyproject.toml" ] \
    && [ "$STAMP" -nt "$CONSTRAINTS" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment at $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -c "$CONSTRAINTS")

echo "[setup] build prerequisites and CPU torch"
"${PIP[@]}" "setuptools>=77.0.3,<80.9" wheel ninja numpy torch torchvision

echo "[setup] mmcv 2.1.0 with compiled ops (first build takes ~12 min on 2 cores)"
if ! "$VENV/bin/python" -c "import mmcv.ops" >/dev/null 2>&1; then
  MMCV_WITH_OPS=1 "${PIP[@]}" --no-build-isolation mmcv
fi
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" ; then
  echo "[setup] ERROR: mmcv was installed without its compiled ops (mmcv._ext)." >&2
  echo "        Remove it and the cached wheel: pip uninstall -y mmcv; pip cache remove mmcv" >&2
  exit 1
fi

echo "[setup] chumpy (an mmpose requirement that only builds without isolation)"
"${PIP[@]}" --no-build-isolation chumpy==0.70

echo "[setup] mmpose_epipolar and the OpenMMLab stack"
"${PIP[@]}" --no-build-isolation -e "$ROOT[dev]"

"$VENV/bin/python" - <<'PY'
import torch, mmcv.ops, mmdet, mmpose  # noqa: F401
import mmpose_epipolar  # noqa: F401
assert torch.__version__.startswith('2.13.0'), torch.__version__
print('[setup] ok: torch', torch.__version__, '| mmcv', mmcv.__version__,
      '| mmdet', mmdet.__version__, '| mmpose', mmpose.__version__,
      '| cuda available:', torch.cuda.is_available())
PY
touch "$STAMP"
