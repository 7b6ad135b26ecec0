# Quick start:  make demo   (install + the main job on built-in synthetic data)
#               make test   (install + the test suite)
#               make test-oldest  (the oldest declared set, numpy 1.x, in
#                                  .venv-oldest: foundation + end-to-end tests)
#               make test-wheel   (the wheel, installed into a fresh venv,
#                                  used from a folder outside the clone)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH_PINS := torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
endif
STAMP := $(VENV)/.mmtlsi-installed
PYTEST_ARGS ?= -n 2 -q
OLDEST_VENV ?= .venv-oldest
OLDEST_PY := $(OLDEST_VENV)/bin/python
OLDEST_STAMP := $(OLDEST_VENV)/.mmtlsi-installed
OLDEST_TESTS ?= tests/test_foundation tests/test_tools/test_train_test_e2e.py \
	tests/test_tools/test_kill_resume.py tests/test_datasets/test_errors.py \
	tests/test_tools/test_process_group_exit.py

.PHONY: install test demo lint format clean-demo install-oldest test-oldest \
	test-wheel

install: $(STAMP)

$(STAMP): requirements/pinned.txt requirements/runtime.txt requirements/mminstall.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=23" "setuptools>=77.0.3,<81" wheel
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -r requirements/pinned.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -c "import mmtlsi, mmseg.models, mmpretrain.models; print('mmtlsi', mmtlsi.__version__, 'installed')"
	@touch $(STAMP)

test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS) tests

demo: install
	$(PY) demo/run_demo.py

# The floor of every declared range (requirements/oldest.txt: torch 2.6,
# numpy 1.24, mmengine 0.10.4, ...), in its own virtual environment.
install-oldest: $(OLDEST_STAMP)

$(OLDEST_STAMP): requirements/oldest.txt setup.py
	@test -x $(OLDEST_PY) || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_PY) -m pip install -q --upgrade "pip>=23" "setuptools>=77.0.3,<81" wheel
	$(OLDEST_PY) -m pip install -q -r requirements/oldest.txt
	$(OLDEST_PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(OLDEST_PY) -c "import mmtlsi, torch, numpy; print('mmtlsi', mmtlsi.__version__, 'on torch', torch.__version__, 'numpy', numpy.__version__)"
	@touch $(OLDEST_STAMP)

test-oldest: install-oldest
	OMP_NUM_THREADS=1 $(OLDEST_PY) -m pytest $(PYTEST_ARGS) $(OLDEST_TESTS)

# Build the wheel and sdist, install the wheel (not editable) into a fresh
# virtual environment and run a downstream project from a temporary folder
# (.ci/test_wheel.sh says what is checked).
test-wheel:
	bash .ci/test_wheel.sh $(PYTHON) "$(TORCH_PINS)"

lint: install
	$(VENV)/bin/ruff check mmtlsi tools tests configs demo

format: install
	$(VENV)/bin/ruff format mmtlsi tools tests demo
