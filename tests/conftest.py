import os
import sys

import pytest

# make the repository importable without an install, and keep tests on CPU
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import mmtlsi  # noqa: E402,F401  (applies mmtlsi.compat before mmseg)


@pytest.fixture
def tmp_work_dir(tmp_path):
    return tmp_path
