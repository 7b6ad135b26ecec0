"""Gradient layouts: every parameter's gradient has the parameter's own
strides, so DDP's gradient buckets take them without a copy (and without its
"Grad strides do not match bucket view strides" warning)."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from mmtlsi.apis.builder import build_model

DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def mismatched_gradients(model):
    return [(n, tuple(p.shape), p.stride(), p.grad.stride())
            for n, p in model.named_parameters()
            if p.grad is not None and p.grad.stride() != p.stride()]


@pytest.mark.parametrize('amp', [False, True])
def test_demo_model_gradients_have_their_parameters_strides(amp):
    torch.manual_seed(0)
    model = build_model(os.path.join(ROOT, DEMO)).train()
    x = torch.randn(2, 3, 32, 48)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        out = model.decode_head(model.extract_feat(x))
    sum(v.float().mean() for d in out.values()
        for v in d.values()).backward()
    n_grads = sum(p.grad is not None for p in model.parameters())
    assert n_grads == sum(1 for _ in model.parameters())
    assert mismatched_gradients(model) == []
    # the depth-wise query convs (the layouts that differed) are stored
    # channels-last, the layout of the maps they read
    for seq in model.decode_head.fusion.query_convs:
        w = seq[0].weight
        k = w.shape[-1]
        assert w.stride() == (k * k, 1, k, 1)


DDP_SCRIPT = textwrap.dedent('''
    import sys, tempfile, warnings
    import torch, torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from mmtlsi.models.layers import MTMQLFB

    store = tempfile.NamedTemporaryFile(delete=False).name
    dist.init_process_group('gloo', init_method='file://' + store, rank=0,
                            world_size=1)
    feats = [torch.randn(1, 16, 8, 8) for _ in range(2)]
    torch.manual_seed(0)
    m = MTMQLFB(16, scales=(1, 3, 5))
    if sys.argv[1] == 'contiguous':   # the layout before the fix
        for seq in m.query_convs:
            w = seq[0].weight
            w.data = torch.empty_like(
                w, memory_format=torch.contiguous_format).copy_(w)
    ddp = DDP(m)   # kept alive: its reducer's hooks run in backward
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ddp(feats).sum().backward()
    hit = any('Grad strides do not match' in str(c.message)
              for c in caught)
    print('warns' if hit else 'quiet')
    dist.destroy_process_group()
''')


@pytest.mark.parametrize('layout,expected', [('as-built', 'quiet'),
                                             ('contiguous', 'warns')])
def test_ddp_step_has_no_stride_mismatch(layout, expected):
    """A one-process gloo DDP step of MT-MQLFB is quiet as built; the same
    step with the depth-wise weights made contiguous (the layout before)
    warns, so the check can fail. (DDP warns once per process: one process
    per case.)"""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get(
        'PYTHONPATH', ''), OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, '-c', DDP_SCRIPT, layout],
                         env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == expected, res.stdout + res.stderr[-2000:]
