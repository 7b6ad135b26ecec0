import os.path as osp
import sys

# the tiny-dataset writers in mt_data_helpers.py
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import pytest  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')
