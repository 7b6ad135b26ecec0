"""torch.compile: the demo model's network and losses trace as single graphs
(no graph breaks), compiled training steps follow eager ones, and compiled
inference gives eager's outputs."""
import copy
import os

import pytest
import torch

from mmtlsi.apis.builder import build_model
from mmtlsi.models import compile_network

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'configs/demo/mtlsi_tiny_synthetic-nyud.py')
SHAPE = (2, 3, 32, 48)


def demo_model():
    torch.manual_seed(0)
    return build_model(DEMO)


def targets(model, n, h, w):
    g = torch.Generator().manual_seed(0)
    out = {}
    for t, spec in model.decode_head.task_specs.items():
        if spec.output == 'classes':
            out[t] = torch.randint(0, spec.out_channels, (n, 1, h, w),
                                   generator=g)
        elif spec.output == 'binary':
            out[t] = torch.randint(0, 2, (n, 1, h, w), generator=g)
        elif spec.output == 'scalar':
            out[t] = torch.rand(n, 1, h, w, generator=g) + 0.5
        else:
            out[t] = torch.nn.functional.normalize(
                torch.randn(n, 3, h, w, generator=g), dim=1)
    return out


def train_steps(model, x, y, steps=3):
    model.train()
    # SGD: a weight's difference is the learning rate times its gradients'
    # (Adam's normalised step would blow up rounding-level differences of
    # near-zero gradients to the full step size)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = sum(model.network_loss(x, y).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses)


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_compiled_training_steps_follow_eager():
    """Three SGD steps, compiled (forward and backward graphs through
    AOTAutograd, one graph: fullgraph) against eager: losses and weights
    agree."""
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(1))
    eager = demo_model()
    compiled = copy.deepcopy(eager)
    y = targets(eager, SHAPE[0], *SHAPE[2:])
    ref = train_steps(eager, x, y)
    compile_network(compiled, dict(backend='aot_eager', fullgraph=True))
    got = train_steps(compiled, x, y)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert ref[-1] < ref[0]            # the steps do train
    # the weights moved the same way: the compiled update differs from the
    # eager one by rounding amplified over three steps (tiny BN batches),
    # not by a different gradient
    start = demo_model().state_dict()
    moved, off = 0.0, 0.0
    for (n, p), q in zip(eager.named_parameters(), compiled.parameters()):
        step_e, step_c = p - start[n], q - start[n]
        moved += step_e.pow(2).sum().item()
        off += (step_c - step_e).pow(2).sum().item()
    assert moved > 0
    assert (off / moved) ** 0.5 < 1e-2
    # BN running statistics are updated by the compiled graph too (same
    # measure: they follow activations of the slightly different weights)
    size, off = 0.0, 0.0
    for b, c in zip(eager.buffers(), compiled.buffers()):
        if b.is_floating_point():
            size += b.pow(2).sum().item()
            off += (c - b).pow(2).sum().item()
    assert (off / size) ** 0.5 < 1e-2


def test_compiled_inference_equals_eager():
    """The whole demo network in inference (BN in eval mode, the in-place
    no-grad branches), one graph through AOTAutograd, against eager."""
    model = demo_model()
    x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(x, mode='tensor')
        compile_network(model, dict(backend='aot_eager', fullgraph=True))
        got = model(x, mode='tensor')
    assert set(got) == set(ref)
    for t in ref:
        torch.testing.assert_close(got[t], ref[t], rtol=1e-4, atol=1e-4)


def test_inductor_fusion_and_cwib_equal_eager():
    """Inductor (generated C++ kernels, torch.compile's default backend) on
    the head's own blocks, MT-MQLFB then CWIB, at a tiny size (its compile
    time counts in the suite), against eager."""
    from mmtlsi.models.layers import CWIB, MTMQLFB
    torch.manual_seed(0)
    fusion = MTMQLFB(16, scales=(1, 3)).eval()
    cwib = CWIB(16, num_heads=2, window_size=(4, 4), num_tokens=8).eval()
    feats = [torch.randn(1, 16, 8, 12) for _ in range(2)]

    def blocks(feats):
        fused = fusion(feats)
        return cwib(feats[0], fused[:, :8])

    with torch.no_grad():
        ref = blocks(feats)
        got = torch.compile(blocks, fullgraph=True)(feats)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_compile_switch_values():
    model = demo_model()
    network = model.network
    assert compile_network(model, None) is model
    compile_network(model, False)
    assert model.network == network
    with pytest.raises(TypeError, match='network'):
        compile_network(torch.nn.Linear(1, 1), True)
