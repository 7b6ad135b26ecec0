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
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
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
    """Three AdamW steps, compiled (forward and backward graphs through
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
    for (n, p), q in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4, msg=n)
    # BN running statistics are updated by the compiled graph too
    for (n, b), c in zip(eager.named_buffers(), compiled.buffers()):
        if b.is_floating_point():
            torch.testing.assert_close(c, b, rtol=1e-3, atol=1e-4, msg=n)


def test_compiled_inference_equals_eager():
    """Inductor (C++ kernels, the default backend), no graph break, against
    eager in inference; the same compiled function serves predict."""
    model = demo_model()
    x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(x, mode='tensor')
        compile_network(model, dict(fullgraph=True))
        got = model(x, mode='tensor')
    assert set(got) == set(ref)
    for t in ref:
        torch.testing.assert_close(got[t], ref[t], rtol=1e-4, atol=1e-4)


def test_compile_switch_values():
    model = demo_model()
    network = model.network
    assert compile_network(model, None) is model
    compile_network(model, False)
    assert model.network == network
    with pytest.raises(TypeError, match='network'):
        compile_network(torch.nn.Linear(1, 1), True)
