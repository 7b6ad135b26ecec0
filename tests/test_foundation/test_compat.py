"""mmtlsi.compat: mmcv-lite stand-ins, safe checkpoint loading."""
import os
import pickle
import sys

import numpy as np
import pytest
import torch

from mmtlsi import compat


def test_mmseg_and_mmpretrain_import_with_mmcv_lite():
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmseg.registry import MODELS
    assert MODELS.get('EncoderDecoder') is not None
    if not compat.has_full_mmcv():
        assert getattr(sys.modules['mmcv.ops'], '__mmtlsi_stand_in__', False)


def test_point_sample_matches_hand_computed_bilinear():
    # 1x1x2x2 map [[1, 2], [3, 4]]; with align_corners=True the four
    # corners of [0, 1]^2 are the pixel centres.
    feat = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    points = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.5, 0.5],
                            [0.25, 1.0]]])
    out = compat.point_sample(feat, points, align_corners=True)
    assert out.shape == (1, 1, 4)
    # (0.25, 1.0): bottom row between 3 and 4, a quarter of the way -> 3.25
    assert torch.allclose(out[0, 0], torch.tensor([1.0, 2.0, 2.5, 3.25]))
    # align_corners=False: x=0.5,y=0.5 is still the centre -> mean 2.5;
    # x=0.25 is the centre of the left pixel -> 1 (top row, y=0.25)
    out = compat.point_sample(feat, torch.tensor([[[0.5, 0.5],
                                                    [0.25, 0.25]]]))
    assert torch.allclose(out[0, 0], torch.tensor([2.5, 1.0]))


def test_point_sample_grid_shape():
    feat = torch.randn(2, 3, 5, 7)
    grid = torch.rand(2, 4, 6, 2)
    assert compat.point_sample(feat, grid).shape == (2, 3, 4, 6)


def test_stand_in_sigmoid_focal_loss_matches_mmseg_python_version():
    from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss
    torch.manual_seed(0)
    pred = torch.randn(6, 4)
    target = torch.tensor([0, 1, 2, 3, 4, 1])  # 4 = background
    one_hot = torch.nn.functional.one_hot(target, 5)[:, :4].float()
    expected = py_sigmoid_focal_loss(pred, one_hot, gamma=2.0, alpha=0.25,
                                     reduction='sum')
    got = compat.sigmoid_focal_loss(pred, target, 2.0, 0.25, None, 'sum')
    assert torch.allclose(got, expected, atol=1e-6)


def test_other_compiled_ops_raise_clear_error():
    stand_in = compat._make_ops_stand_in()
    with pytest.raises(ModuleNotFoundError, match='docs/install.md'):
        stand_in.DeformConv2d  # noqa: B018
    # mmseg's optional imports catch ModuleNotFoundError, so the stand-in's
    # error must be one
    assert issubclass(compat.MissingCompiledOpError, ModuleNotFoundError)


def test_full_mmcv_is_left_alone(monkeypatch):
    monkeypatch.setattr(compat, 'has_full_mmcv', lambda: True)
    before = sys.modules.get('mmcv.ops')
    assert compat.install_mmcv_ops_stand_in() is False
    assert sys.modules.get('mmcv.ops') is before


def _message_hub_checkpoint():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('mmtlsi-test-ckpt')
    hub.update_scalar('train/loss', np.float64(0.75))
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/lr', 2e-5)
    hub.update_info('iter', 12)
    hub.update_info('seed', np.int64(7))
    return dict(
        meta=dict(iter=12, seed=np.int64(7), cfg='a = 1',
                  mmengine_version='0.10.7'),
        state_dict={'w': torch.arange(4.0)},
        message_hub=hub.state_dict(),
        optimizer={'state': {}, 'param_groups': [{'lr': 2e-5}]},
    )


def test_message_hub_checkpoint_round_trips_through_safe_loader(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_message_hub_checkpoint(), path)
    # the safe loader stays on: weights_only=True, explicitly
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.0))
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert buf.current() == 0.5
    assert buf.mean() == pytest.approx(0.625)
    assert loaded['meta']['seed'] == 7

    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('mmtlsi-test-restore')
    hub.load_state_dict(loaded['message_hub'])
    assert hub.get_scalar('train/lr').current() == pytest.approx(2e-5)
    assert hub.get_info('iter') == 12


def test_mmengine_loader_reads_a_runner_style_checkpoint(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    torch.save(_message_hub_checkpoint(), path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['iter'] == 12


class _WritesFile:
    """A pickle payload that creates a file when it is loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize('fmt', ['zip', 'legacy'])
def test_crafted_checkpoint_is_refused_on_the_resume_path(tmp_path, fmt):
    """mmengine's loader (``load_from``, ``--resume``, pretrained weights)
    passes no ``weights_only``; on every torch mmtlsi accepts (>= 2.6) that
    means the safe loader, so the payload never runs."""
    from mmengine.runner.checkpoint import _load_checkpoint
    marker = tmp_path / 'payload-ran'
    path = tmp_path / 'evil.pth'
    payload = {'state_dict': {'w': torch.zeros(1)}, 'x': _WritesFile(marker)}
    if fmt == 'zip':
        torch.save(payload, path)
    else:
        with open(path, 'wb') as f:
            pickle.dump(payload, f)
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_torch_older_than_the_safe_default_is_refused():
    with pytest.raises(ImportError, match='torch >= 2.6'):
        compat.check_torch_version('2.5.1+cu121')
    compat.check_torch_version('2.6.0+cpu')
    compat.check_torch_version('2.14.1')
    assert compat.version_tuple('2.10.0a0+git1234') == (2, 10)


def test_numpy_pickle_module_follows_the_major_version(monkeypatch):
    import importlib
    asked = []
    monkeypatch.setattr(importlib, 'import_module',
                        lambda name: asked.append(name) or name)
    monkeypatch.setattr(np, '__version__', '1.26.4')
    # numpy 1.26 has a stub numpy._core without multiarray: not taken
    assert compat.numpy_multiarray() == 'numpy.core.multiarray'
    monkeypatch.setattr(np, '__version__', '2.4.6')
    assert compat.numpy_multiarray() == 'numpy._core.multiarray'


def test_getattr_is_not_allow_listed():
    names = {getattr(g, '__name__', '')
             for g in compat.checkpoint_safe_globals()}
    assert 'getattr' not in names
    assert 'system' not in names


def test_custom_imports_in_a_config_run_by_mmseg_style_tools():
    """mmseg's tools import mmengine and mmseg.registry, then read the config;
    `custom_imports=['mmtlsi']` must apply the compat layer before the first
    model module is imported."""
    import subprocess
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    code = '\n'.join([
        'import sys',
        'from mmengine.config import Config',
        'from mmengine.runner import Runner',
        'from mmseg.registry import RUNNERS, MODELS',
        'assert "mmtlsi" not in sys.modules',
        f'cfg = Config.fromfile({repo!r} + '
        '"/configs/demo/mtlsi_tiny_synthetic-nyud.py")',
        'from mmengine.registry import init_default_scope',
        'init_default_scope("mmseg")',
        'import mmseg.models',
        'print(type(MODELS.build(cfg.model)).__name__)',
    ])
    env = dict(os.environ, PYTHONPATH=repo)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=300, env=env, cwd='/')
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == 'MultiTaskEncoderDecoder'
