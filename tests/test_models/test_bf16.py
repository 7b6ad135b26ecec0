"""bf16 inference: bf16 weights through optimize_for_inference hold the
documented tolerances against fp32 (docs/model.md), and the choice of dtype
follows the CPU's bf16 support."""
import copy
import os

import pytest
import torch

from mmtlsi.apis.builder import build_model
from mmtlsi.models import optimize_for_inference
from mmtlsi.models.optimize import cpu_native_bf16, resolve_inference_dtype

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py')
# the documented tolerances: per task, relative to the fp32 logits' std
RMS_TOL, MAX_TOL = 0.05, 0.25


@pytest.fixture(scope='module')
def demo_model():
    torch.manual_seed(0)
    model = build_model(DEMO).train()
    with torch.no_grad():          # BN statistics away from their init
        for _ in range(2):
            model(torch.randn(2, 3, 64, 96) * 2, mode='tensor')
    return model.eval()


def relative_errors(out, ref):
    std = ref.std()
    err = out.float() - ref
    return (err.pow(2).mean().sqrt() / std).item(), \
        (err.abs().max() / std).item()


@pytest.mark.parametrize('fuse_bn', [False, True])
def test_bf16_weights_hold_tolerances_against_fp32(demo_model, fuse_bn):
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = demo_model(x, mode='tensor')
        model = optimize_for_inference(copy.deepcopy(demo_model),
                                       fuse_bn=fuse_bn, dtype='bf16')
        out = model(x, mode='tensor')
    assert model.compute_dtype == torch.bfloat16
    assert model.decode_head.fusion.q.weight.dtype == torch.bfloat16
    # the preprocessor normalises in fp32
    assert model.data_preprocessor.mean.dtype == torch.float32
    for t in ref:
        assert out[t].dtype == torch.float32 and out[t].shape == ref[t].shape
        rms, worst = relative_errors(out[t], ref[t])
        assert rms < RMS_TOL and worst < MAX_TOL, (t, rms, worst)
        # bf16 does change the numbers (the route really runs in bf16)
        assert rms > 1e-4, t


def test_bf16_autocast_holds_the_same_tolerances(demo_model):
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = demo_model(x, mode='tensor')
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = demo_model(x, mode='tensor')
    for t in ref:
        assert out[t].dtype == torch.float32
        rms, worst = relative_errors(out[t], ref[t])
        assert rms < RMS_TOL and worst < MAX_TOL, (t, rms, worst)


def test_dtype_choice_follows_the_cpu(monkeypatch):
    for probe in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    native, why = cpu_native_bf16()
    assert not native and 'no native bfloat16' in why
    dtype, why = resolve_inference_dtype('auto')
    assert dtype == torch.float32 and why.startswith('fp32 kept')
    # an explicit request is honoured, and says it is emulated
    dtype, why = resolve_inference_dtype('bf16')
    assert dtype == torch.bfloat16 and 'emulated' in why
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: True)
    native, why = cpu_native_bf16()
    assert native and 'amx_bf16' in why
    assert resolve_inference_dtype('auto')[0] == torch.bfloat16
    assert resolve_inference_dtype(None)[0] == torch.float32
    assert resolve_inference_dtype('auto', 'cuda')[0] == torch.bfloat16
    with pytest.raises(ValueError, match='float16'):
        resolve_inference_dtype('float16')
    with pytest.raises(ValueError, match='float32 or bfloat16'):
        resolve_inference_dtype(torch.float16)


def test_auto_keeps_fp32_without_native_bf16(demo_model, monkeypatch):
    monkeypatch.setattr('mmtlsi.models.optimize.cpu_native_bf16',
                        lambda: (False, 'no native bfloat16 (test)'))
    model = optimize_for_inference(copy.deepcopy(demo_model), dtype='auto')
    assert model.compute_dtype is None
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert 'fp32 kept' in model.inference_dtype_reason
    with pytest.raises(TypeError, match='compute_dtype'):
        optimize_for_inference(torch.nn.Conv2d(1, 1, 1).eval(),
                               dtype='bf16')
