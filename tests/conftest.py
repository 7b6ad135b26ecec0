import os
import sys

import pytest

# make the repository importable without an install, and keep tests on CPU
# (MMTLSI_TEST_GPU=1: let the tests marked `gpu` use the GPU)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.environ.get('MMTLSI_TEST_GPU') != '1':
    os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import mmtlsi  # noqa: E402,F401  (applies mmtlsi.compat before mmseg)


@pytest.fixture
def tmp_work_dir(tmp_path):
    return tmp_path


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped when no CUDA device is visible."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason='needs a CUDA device (run with MMTLSI_TEST_GPU=1 on a GPU '
        'machine)')
    for item in items:
        if item.get_closest_marker('gpu') is not None:
            item.add_marker(skip)
