"""Strict checkpoint loading: init_model, the inferencer and the tools stop
with the file and the keys when a checkpoint does not fit."""
import os.path as osp

import pytest
import torch

from mmtlsi.apis import (
    CheckpointMismatchError,
    MTLSIInferencer,
    build_model,
    init_model,
)
from mmtlsi.apis.checkpoint import (
    MAX_KEYS,
    compare_state_dicts,
    describe_mismatch,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')


def test_compare_state_dicts_hand_made():
    model = dict(a=torch.zeros(2), b=torch.zeros(3), d=torch.zeros(1))
    file = dict(a=torch.ones(2), b=torch.ones(4), c=torch.ones(1))
    diff = compare_state_dicts(model, file)
    assert diff == dict(missing=['d'], unexpected=['c'],
                        shape=[('b', (4, ), (3, ))])
    msg = describe_mismatch('w.pth', diff)
    assert msg.startswith('checkpoint w.pth does not fit the model')
    assert 'b: [4] vs [3]' in msg and 'missing from the file: d' in msg
    assert 'does not have: c' in msg
    assert describe_mismatch('w.pth', compare_state_dicts(model, model)) \
        is None


def test_describe_mismatch_lists_at_most_max_keys():
    model = {f'k{i}': torch.zeros(1) for i in range(MAX_KEYS + 3)}
    msg = describe_mismatch('x.pth', compare_state_dicts(model, {}))
    assert f'{MAX_KEYS + 3} key(s) of the model missing' in msg
    assert f'k{MAX_KEYS - 1}' in msg and f'k{MAX_KEYS},' not in msg
    assert msg.endswith('... and 3 more')


@pytest.fixture(scope='module')
def wide_checkpoint(tmp_path_factory):
    """A checkpoint of the demo model with a wider head (channels 64)."""
    path = tmp_path_factory.mktemp('ckpt') / 'wide.pth'
    torch.manual_seed(1)
    model = build_model(DEMO_CFG, {'model.decode_head.channels': 64})
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path), model.state_dict()


def test_init_model_refuses_a_checkpoint_of_another_model(wide_checkpoint):
    path, wide = wide_checkpoint
    narrow = build_model(DEMO_CFG).state_dict()
    expected = compare_state_dicts(narrow, wide)
    assert expected['shape'] and not expected['unexpected']
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(DEMO_CFG, path)
    msg = str(err.value)
    assert path in msg and DEMO_CFG in msg
    key, file_shape, model_shape = expected['shape'][0]
    assert f'{key}: {list(file_shape)} vs {list(model_shape)}' in msg
    assert f'{len(expected["shape"])} tensor(s) of another shape' in msg
    with pytest.raises(CheckpointMismatchError, match='wide.pth'):
        MTLSIInferencer(DEMO_CFG, path, device='cpu', show_progress=False)


def test_partial_load_on_purpose(wide_checkpoint):
    path, wide = wide_checkpoint
    model = init_model(DEMO_CFG, path, strict=False)
    state = model.state_dict()
    same = [k for k in state if state[k].shape == wide[k].shape]
    differ = [k for k in state if state[k].shape != wide[k].shape]
    assert same and differ
    # every tensor that fits comes from the file (the backbone, at least)
    for k in same:
        assert torch.equal(state[k], wide[k]), k
    assert any(k.startswith('backbone.') for k in same)
