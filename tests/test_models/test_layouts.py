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
from mmtlsi.models.layers import PointwiseConv2d

DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def mismatched_gradients(model):
    return [(n, tuple(p.shape), p.stride(), p.grad.stride())
            for n, p in model.named_parameters()
            if p.grad is not None and p.grad.stride() != p.stride()]


@pytest.fixture
def threads(request):
    """torch's intra-op threads for the test (PyTorch picks the CPU kernel
    of a 1x1 convolution by the thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize('threads', [1, 2], indirect=True)
@pytest.mark.parametrize('amp', [False, True])
def test_demo_model_gradients_have_their_parameters_strides(amp, threads):
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


@pytest.mark.parametrize('threads', [1, 2], indirect=True)
def test_pointwise_conv_is_the_1x1_conv_with_one_gradient_layout(threads):
    torch.manual_seed(0)
    conv = PointwiseConv2d(6, 5)
    ref = torch.nn.Conv2d(6, 5, 1)
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(2, 6, 7, 9)
    for layout in (torch.contiguous_format, torch.channels_last):
        xi = x.contiguous(memory_format=layout)
        out = conv(xi)
        torch.testing.assert_close(out, ref(xi), rtol=1e-5, atol=1e-6)
        # a channels-last input gives a channels-last output
        assert out.is_contiguous(memory_format=layout)
        conv.zero_grad()
        out.square().sum().backward()
        assert conv.weight.grad.stride() == conv.weight.stride()
    with pytest.raises(ValueError, match='1x1 convolution'):
        PointwiseConv2d(6, 5, kernel_size=3)
