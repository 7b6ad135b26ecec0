# Quick start:  make demo   (install + the main job on built-in synthetic data)
#               make test   (install + the test suite)
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

.PHONY: install test demo lint format clean-demo

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
	$(PY) tools/run_demo.py

lint: install
	$(VENV)/bin/ruff check mmtlsi tools tests configs demo

format: install
	$(VENV)/bin/ruff format mmtlsi tools tests demo
