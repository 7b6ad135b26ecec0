"""bf16 inference: bf16 weights through optimize_for_inference hold the
documented tolerances against fp32 (docs/model.md), and the choice of dtype
follows the CPU's bf16 support."""
import copy
import os

import pytest
import torch

from mmtlsi.apis.builder import build_model
from mmtlsi.models import optimize, optimize_for_inference
from mmtlsi.models.optimize import cpu_native_bf16, resolve_inference_dtype
from mmtlsi.utils.op_profile import OpDtypeRecorder

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
    def cpu(*flags):
        return lambda: dict(native=bool(flags), flags=list(flags),
                            model='test', capability='AVX2')

    monkeypatch.setattr(optimize, 'cpu_bf16_support', cpu())
    native, why = cpu_native_bf16()
    assert not native and 'no native bfloat16' in why
    dtype, why = resolve_inference_dtype('auto')
    assert dtype == torch.float32 and why.startswith('fp32 kept')
    # an explicit request is honoured, and says it is emulated
    dtype, why = resolve_inference_dtype('bf16')
    assert dtype == torch.bfloat16 and 'emulated' in why
    monkeypatch.setattr(optimize, 'cpu_bf16_support', cpu('amx_bf16'))
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


# kinds of operator that must run in bf16 on the bf16-weights route: every
# product and every memory-bound kernel between them
BF16_KINDS = ('matmul', 'norm', 'softmax', 'activation')


def fp32_kernels(recorder):
    return {kind: row['float32']['calls']
            for kind, row in recorder.by_group().items()
            if kind in BF16_KINDS and 'float32' in row}


def test_bf16_weights_run_every_product_in_bf16(demo_model):
    model = optimize_for_inference(copy.deepcopy(demo_model), dtype='bf16')
    recorder = OpDtypeRecorder()
    with torch.no_grad(), recorder:
        model(torch.randn(1, 3, 64, 96), mode='tensor')
    groups = recorder.by_group()
    assert groups['matmul']['bfloat16']['calls'] > 10
    assert fp32_kernels(recorder) == {}


def test_swin_model_in_bf16_weights():
    """A paper config (Swin-T): its shifted-window attention builds fp32
    masks inside the forward; with bf16 weights they follow the scores'
    dtype, every product runs in bf16 and the maps hold the tolerances."""
    torch.manual_seed(0)
    model = build_model(os.path.join(ROOT, 'configs/mtlsi/swin-t_nyud.py'),
                        dict(model=dict(backbone=dict(pad_small_map=True))))
    # 64x64: the stride-16/32 maps are padded to the window (7); the
    # stride-4/8 maps have shifted windows with their masks
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(x, mode='tensor')
    assert optimize_for_inference(model, dtype='bf16') is model
    assert sum(getattr(m, '_mask_cast_hook', None) is not None
               for m in model.modules()) == 12      # Swin-T's 2+2+6+2
    recorder = OpDtypeRecorder()
    with torch.no_grad(), recorder:
        out = model(x, mode='tensor')
    assert fp32_kernels(recorder) == {}
    for t in ref:
        assert out[t].dtype == torch.float32
        rms, worst = relative_errors(out[t], ref[t])
        assert 1e-4 < rms < RMS_TOL and worst < MAX_TOL, (t, rms, worst)


def test_inference_dtype_hook_refuses_unknown_dtypes():
    from mmtlsi.engine.hooks import InferenceDtypeHook
    with pytest.raises(ValueError, match="'bf16', 'fp32' or 'auto'"):
        InferenceDtypeHook(dtype='fp16')
