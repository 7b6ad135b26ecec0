"""The non-finite guard: a bad step is never applied, and is reported."""
import logging

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

import mmtlsi  # noqa: F401  (registers the guard)
from mmtlsi.engine import (
    NonFiniteGuardAmpOptimWrapper,
    NonFiniteGuardConstructor,
    NonFiniteGuardOptimWrapper,
    NonFiniteLossError,
)


class InfGrad(torch.autograd.Function):
    """Identity forward, infinite gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float('inf'))


class TwoTermModel(nn.Module):
    """Returns two loss terms; ``bad`` picks what goes wrong."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.bad = None

    def forward(self, inputs, data_samples=None, mode='loss'):
        coarse = (self.w * inputs).sum()
        final = (self.w ** 2).sum()
        if self.bad == 'loss':
            coarse = coarse * float('nan')
        if self.bad == 'grad':
            final = InfGrad.apply(self.w).sum() * 0 + final
        return {'decode.loss_depth_coarse': coarse,
                'decode.loss_semseg': final}


def _sample(name):
    return BaseDataElement(metainfo=dict(
        img_path=f'/data/images/{name}.jpg',
        seg_map_path=f'/data/segmentation/{name}.png'))


def _step(model, wrapper, iteration):
    MessageHub.get_current_instance().update_info('iter', iteration)
    losses = model(torch.ones(2, device=model.w.device),
                   data_samples=[_sample('a'), _sample('b')], mode='loss')
    wrapper.update_params(sum(losses.values()))


@pytest.fixture(autouse=True)
def mmseg_scope():
    # configs run with default_scope='mmseg', where the guard is registered
    DefaultScope.get_instance('test-nonfinite-guard', scope_name='mmseg')
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def _build(model, **kwargs):
    return build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='NonFiniteGuardConstructor',
        optimizer=dict(type='AdamW', lr=0.1), **kwargs))


def test_constructor_guards_the_named_type_and_amp():
    model = TwoTermModel()
    assert type(_build(model)) is NonFiniteGuardOptimWrapper
    # what --amp makes of the config: the guarded AmpOptimWrapper
    amp = NonFiniteGuardConstructor(dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    assert amp.optim_wrapper_cfg['type'] == 'NonFiniteGuardAmpOptimWrapper'
    assert issubclass(NonFiniteGuardAmpOptimWrapper, AmpOptimWrapper)
    assert NonFiniteGuardAmpOptimWrapper.check_grads is False
    with pytest.raises(ValueError, match="'OptimWrapperDict'"):
        NonFiniteGuardConstructor(dict(
            type='OptimWrapperDict', optimizer=dict(type='SGD', lr=0.1)))


@pytest.mark.parametrize('bad', ['loss', 'grad'])
def test_bad_step_stops_the_run_unapplied_naming_terms_and_files(bad):
    model = TwoTermModel()
    wrapper = _build(model)
    _step(model, wrapper, 0)                 # a good step: applied
    after_good = model.w.detach().clone()
    assert not torch.equal(after_good, torch.tensor([1.0, 2.0]))
    state = {k: v.clone() for k, v in
             wrapper.optimizer.state[model.w].items()}
    model.bad = bad
    with pytest.raises(NonFiniteLossError) as err:
        _step(model, wrapper, 6)
    message = str(err.value)
    assert 'iteration 7' in message
    assert '/data/images/a.jpg (/data/segmentation/a.png)' in message
    assert '/data/images/b.jpg' in message
    if bad == 'loss':
        assert 'decode.loss_depth_coarse=nan' in message
        assert 'decode.loss_semseg' not in message
    else:
        assert 'non-finite gradient norm' in message
    # not applied: weights and AdamW moments as after the good step
    assert torch.equal(model.w.detach(), after_good)
    for key, value in wrapper.optimizer.state[model.w].items():
        assert torch.equal(value, state[key]), key
    assert model.w.grad is None or not model.w.grad.abs().sum()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_skips_up_to_n_steps_logging_each_then_stops():
    model = TwoTermModel()
    wrapper = _build(model, max_nonfinite_skips=2)
    model.bad = 'loss'
    start = model.w.detach().clone()
    logger = MMLogger.get_current_instance()
    collect = _Collect()
    logger.addHandler(collect)
    try:
        _step(model, wrapper, 3)
        _step(model, wrapper, 4)
    finally:
        logger.removeHandler(collect)
    skips = [line for line in collect.lines
             if 'skipped a non-finite step' in line]
    assert len(skips) == 2, skips
    assert '(1 of at most 2): iteration 4 ' in skips[0]
    assert '(2 of at most 2): iteration 5 ' in skips[1]
    assert all('decode.loss_depth_coarse=nan' in s and '/data/images/a.jpg'
               in s for s in skips)
    model.bad = None
    assert torch.equal(model.w.detach(), start)    # nothing applied
    _step(model, wrapper, 5)                 # good steps still train
    assert not torch.equal(model.w.detach(), start)
    model.bad = 'grad'
    with pytest.raises(NonFiniteLossError, match='iteration 7'):
        _step(model, wrapper, 6)
    assert wrapper.nonfinite_skips == 2


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='AmpOptimWrapper needs a GPU')
def test_amp_wrapper_checks_the_loss():
    model = TwoTermModel().cuda()
    wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper', constructor='NonFiniteGuardConstructor',
        optimizer=dict(type='SGD', lr=0.1), dtype='bfloat16'))
    model.bad = 'loss'
    with pytest.raises(NonFiniteLossError, match='loss_depth_coarse=nan'):
        with wrapper.optim_context(model):
            _step(model, wrapper, 0)
    assert torch.equal(model.w.detach().cpu(), torch.tensor([1.0, 2.0]))
