"""A training step with a NaN or infinite loss or gradient is never applied.

``NonFiniteGuardConstructor`` (``optim_wrapper.constructor`` in mmtlsi's
configs) builds the optimizer wrapper the config names, ``OptimWrapper`` or
``AmpOptimWrapper`` (also after ``--amp``), as its guarded subclass:

- before backward, the summed loss is checked (no synchronisation yet: the
  check is a tensor);
- after backward and before the optimizer step, the total gradient norm is
  checked with it, in one ``.item()``; with more than one process the ranks
  agree by a max all-reduce of the flag, so all of them skip or stop
  together. Under ``AmpOptimWrapper`` non-finite *gradients* are the loss
  scaler's business (it skips the step and lowers the scale); the loss is
  still checked.

A bad step is not applied (its gradients are zeroed). By default the run
stops with :class:`NonFiniteLossError`, naming the iteration, the non-finite
loss terms (every task, coarse and final, as the model returns them) and the
files of the batch's samples. ``max_nonfinite_skips=N`` skips up to N such
steps instead, each logged with the same details; the (N+1)-th stops.
"""
from __future__ import annotations

import logging

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.optim import (
    AmpOptimWrapper,
    DefaultOptimWrapperConstructor,
    OptimWrapper,
)
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS


class NonFiniteLossError(RuntimeError):
    """A loss term or the gradient norm of a training step is NaN or
    infinite."""


class _BatchRecorder:
    """Forward hook that keeps the last training forward's data samples and
    loss dict (references only), for the guard's report."""

    def __init__(self) -> None:
        self.data_samples = None
        self.losses = None

    def __call__(self, module, args, kwargs, output) -> None:
        if kwargs.get('mode') == 'loss':
            self.data_samples = kwargs.get('data_samples')
            self.losses = output if isinstance(output, dict) else None

    def files(self) -> list:
        """Per sample: its image, then its other files (annotations)."""
        found = []
        for sample in self.data_samples or ():
            info = getattr(sample, 'metainfo', {})
            paths = [v for k, v in sorted(info.items(), key=lambda kv: (
                kv[0] != 'img_path', kv[0]))
                if (k == 'img_path' or k.endswith('_path'))
                and isinstance(v, str)]
            if paths:
                found.append(paths[0] + (f' ({", ".join(paths[1:])})'
                                         if paths[1:] else ''))
        return found

    def bad_terms(self) -> list:
        bad = []
        for name, value in (self.losses or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, torch.Tensor) and \
                        item.is_floating_point() and \
                        not bool(torch.isfinite(item.detach()).all()):
                    bad.append(f'{name}={item.detach().float().sum().item()}')
                    break
        return bad


class NonFiniteGuardMixin:
    """The guard; mixed into an mmengine optimizer wrapper class."""

    check_grads = True

    def __init__(self, *args, max_nonfinite_skips: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if max_nonfinite_skips < 0:
            raise ValueError(f'max_nonfinite_skips must be >= 0, got '
                             f'{max_nonfinite_skips}')
        self.max_nonfinite_skips = max_nonfinite_skips
        self.nonfinite_skips = 0
        self.recorder = _BatchRecorder()
        self._loss_ok = None
        self._bad_details: list = []

    def watch(self, model: torch.nn.Module) -> None:
        """Record ``model``'s training batches for the report."""
        model.register_forward_hook(self.recorder, with_kwargs=True)

    def _grads_finite(self) -> torch.Tensor:
        grads = [p.grad for group in self.optimizer.param_groups
                 for p in group['params'] if p.grad is not None]
        if not grads:
            return torch.ones((), dtype=torch.bool)
        norms = torch._foreach_norm(grads)
        return torch.isfinite(torch.stack(
            [n.to(norms[0].device) for n in norms]).sum())

    def update_params(self, loss: torch.Tensor, step_kwargs=None,
                      zero_kwargs=None) -> None:
        ok = torch.isfinite(loss.detach()).all()
        if self._accumulative_counts > 1 and not bool(ok):
            # the report must name this micro-batch, not the last one
            self._bad_details.append(self._details())
        self._loss_ok = ok if self._loss_ok is None else self._loss_ok & ok
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        grads_ok = self._grads_finite() if self.check_grads else None
        all_ok = self._loss_ok if grads_ok is None \
            else self._loss_ok & grads_ok
        flag = (~all_ok).to(torch.int64).reshape(1)
        if get_world_size() > 1:
            all_reduce(flag, op='max')
        loss_ok, self._loss_ok = self._loss_ok, None
        details, self._bad_details = self._bad_details, []
        if not int(flag.item()):          # the one synchronisation
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
            return
        if not details and not bool(loss_ok):
            details.append(self._details())
        self.zero_grad(**(zero_kwargs or {}))
        self._reject(details, grads_ok is not None and not bool(grads_ok))

    def _details(self) -> str:
        terms = self.recorder.bad_terms()
        files = self.recorder.files()
        return (f'non-finite loss terms: {", ".join(terms) or "(the sum)"}; '
                f'samples: {"; ".join(files) or "(unknown)"}')

    def _reject(self, details: list, grads_bad: bool) -> None:
        iteration = self.message_hub.get_info('iter', -1) + 1
        what = list(details)
        if grads_bad and not what:
            what.append('finite loss, non-finite gradient norm; samples: '
                        + ('; '.join(self.recorder.files()) or '(unknown)'))
        elif not what:
            what.append('on another rank (see its log)')
        message = (f'iteration {iteration} (rank {get_rank()}): '
                   + ' | '.join(what))
        if self.nonfinite_skips < self.max_nonfinite_skips:
            self.nonfinite_skips += 1
            print_log(f'skipped a non-finite step ({self.nonfinite_skips} of '
                      f'at most {self.max_nonfinite_skips}): {message}',
                      logger='current', level=logging.WARNING)
            return
        advice = ('' if self.max_nonfinite_skips else
                  ' To skip up to N such steps instead, set '
                  'optim_wrapper.max_nonfinite_skips=N.')
        raise NonFiniteLossError(
            f'{message}. The step was not applied and the run stops; the '
            f'checkpoints on disk are the last good ones. Lower the learning '
            f'rate, set optim_wrapper.clip_grad, or check these samples.'
            f'{advice}')


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(NonFiniteGuardMixin, OptimWrapper):
    """``OptimWrapper`` with the non-finite guard."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardAmpOptimWrapper(NonFiniteGuardMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` with the non-finite guard (losses only: the loss
    scaler handles non-finite gradients)."""

    check_grads = False


GUARDED = {'OptimWrapper': 'NonFiniteGuardOptimWrapper',
           'AmpOptimWrapper': 'NonFiniteGuardAmpOptimWrapper'}


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class NonFiniteGuardConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, building the guarded subclass of the
    wrapper type the config names (``OptimWrapper``, ``AmpOptimWrapper``),
    and recording the model's training batches for the guard's report."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        kind = self.optim_wrapper_cfg.get('type', 'OptimWrapper')
        if kind in GUARDED:
            self.optim_wrapper_cfg['type'] = GUARDED[kind]
        elif kind not in GUARDED.values():
            raise ValueError(
                f'NonFiniteGuardConstructor guards {", ".join(GUARDED)}, '
                f'not optim_wrapper.type={kind!r}; remove '
                f'optim_wrapper.constructor (and max_nonfinite_skips) to use '
                f'{kind} unguarded.')

    def __call__(self, model: torch.nn.Module):
        wrapper = super().__call__(model)
        wrapper.watch(getattr(model, 'module', model))
        return wrapper
