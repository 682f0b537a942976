# The two commands of the README's quick start. Both create or reuse the
# virtual environment in .venv (VENV=... to put it elsewhere).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: setup quickstart test lint benchmark

setup:
	@VENV=$(VENV) bash tools/setup_env.sh

quickstart: setup
	$(PY) tools/quickstart.py

# pytest exits 5 when no test is collected (e.g. a -k filter matching
# nothing); that is not a failure of the suite.
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; \
	exit $$rc

lint: setup
	$(PY) -m ruff check mmpose_epipolar tools tests benchmarks configs

benchmark: setup
	$(PY) benchmarks/train_step.py
