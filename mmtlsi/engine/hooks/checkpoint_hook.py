"""Checkpoints that are written atomically, finite, and never lost."""
from __future__ import annotations

import os
import os.path as osp
import re
from contextlib import contextmanager

import torch
from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from mmtlsi.registry import HOOKS

from ..checkpoint_io import atomic_write_bytes, remove_temp_files


class NonFiniteStateError(RuntimeError):
    """The model or optimizer holds a NaN or an infinity: not saved."""


def first_non_finite(tensors) -> str | None:
    """The name of the first floating-point tensor of ``tensors`` (name ->
    tensor pairs) holding a NaN or an infinity, or None."""
    for name, value in tensors:
        if isinstance(value, torch.Tensor) and value.is_floating_point() \
                and not bool(torch.isfinite(value).all()):
            return name
    return None


def _optimizer_tensors(optim_wrapper):
    state = optim_wrapper.state_dict()
    for key, value in state.items():
        if key == 'state':
            for index, slots in value.items():
                for slot, tensor in slots.items():
                    yield f'optimizer state {index}.{slot}', tensor


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` wait until ``flush``."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.pending: list = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def remove(self, path) -> None:
        self.pending.append(path)

    def rmtree(self, path) -> None:
        self.pending.append(path)

    def flush(self, keep: set) -> None:
        for path in self.pending:
            if path in keep:
                continue
            if self._backend.isfile(path):
                self._backend.remove(path)
            elif self._backend.isdir(path):
                self._backend.rmtree(path)
        self.pending.clear()


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with an order of operations that never
    leaves the work dir without a loadable checkpoint.

    mmengine deletes the oldest checkpoint first and then writes the new one,
    so a run killed during a save with ``max_keep_ckpts=1`` has no
    checkpoint left. Here every save

    1. writes the new checkpoint atomically (temporary file, fsync, rename;
       backend ``atomic_local`` unless ``backend_args`` says otherwise);
    2. then rewrites ``last_checkpoint`` atomically;
    3. only then deletes the checkpoints beyond ``max_keep_ckpts`` and a
       superseded ``best_*`` checkpoint.

    At the start of training it removes the temporary files of a save that
    was killed. A model or optimizer state holding a NaN or an infinity is
    never written: the save raises :class:`NonFiniteStateError` instead, and
    the checkpoints already on disk stay. Every checkpoint's ``meta`` records
    ``world_size`` and ``batch_size`` (per process) of the run that wrote it.
    Same arguments as ``CheckpointHook``.
    """

    def __init__(self, *args, backend_args=None, **kwargs) -> None:
        if backend_args is None and kwargs.get('out_dir') is None:
            backend_args = dict(backend='atomic_local')
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_train(self, runner) -> None:
        with self._deferred_removal():
            super().before_train(runner)
        if is_main_process():
            for folder in {runner.work_dir, self.out_dir}:
                for path in remove_temp_files(folder):
                    runner.logger.warning(
                        f'removed {path}, left by a save that was '
                        f'interrupted')
            for path in self._superseded_checkpoints():
                self.file_backend.remove(path)
                runner.logger.warning(
                    f'removed {path}: max_keep_ckpts={self.max_keep_ckpts} '
                    f'had dropped it, but the run stopped before deleting it')

    def _superseded_checkpoints(self) -> list:
        """Regular checkpoints older than the kept ones and not kept: a run
        killed between saving a checkpoint and deleting the old one leaves
        one behind."""
        kept = list(getattr(self, 'keep_ckpt_ids', ()))
        if self.max_keep_ckpts <= 0 or not kept or \
                not osp.isdir(str(self.out_dir)):
            return []
        pattern = re.compile(
            re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
        found = []
        for name in sorted(os.listdir(self.out_dir)):
            match = pattern.match(name)
            if match and int(match[1]) < max(kept) \
                    and int(match[1]) not in kept:
                found.append(osp.join(self.out_dir, name))
        return found

    @contextmanager
    def _deferred_removal(self):
        backend = getattr(self, 'file_backend', None)
        if backend is None or isinstance(backend, _DeferredRemoval):
            yield
            return
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            yield
        finally:
            self.file_backend = backend
        if is_main_process():
            deferred.flush(keep=self._paths_in_use())

    def _paths_in_use(self) -> set:
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for step in getattr(self, 'keep_ckpt_ids', ()):
            keep.add(self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(step)))
        return {p for p in keep if p}

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._deferred_removal():
            super()._save_best_checkpoint(runner, metrics)

    def save_now(self, runner) -> str:
        """Save the checkpoint of the iteration (epoch) that just ended, as a
        regular one, unless it was saved already; returns its path."""
        step = runner.epoch + 1 if self.by_epoch else runner.iter + 1
        if self.last_ckpt != self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(step)):
            self._save_checkpoint(runner)
        return self.last_ckpt

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        batch_size = getattr(runner.train_dataloader, 'batch_size', None)
        checkpoint.setdefault('meta', {}).update(
            world_size=get_world_size(), batch_size=batch_size)

    def check_finite(self, runner) -> None:
        """Raise NonFiniteStateError if the model's parameters and buffers
        or the optimizer's state hold a NaN or an infinity."""
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        bad = first_non_finite(model.state_dict().items())
        if bad is None and getattr(runner, 'optim_wrapper', None) is not None \
                and hasattr(runner.optim_wrapper, 'state_dict'):
            bad = first_non_finite(_optimizer_tensors(runner.optim_wrapper))
        if bad is not None:
            raise NonFiniteStateError(
                f'not saving the checkpoint of iteration {runner.iter + 1}: '
                f'{bad} holds a NaN or an infinity; the checkpoints in '
                f'{self.out_dir} are kept as they are.')

    # The one private method of mmengine's CheckpointHook overridden here:
    # ``_save_checkpoint_with_step(self, runner, step, meta)`` (its signature
    # is pinned by tests/test_foundation/test_checkpoint_hook.py). mmengine
    # deletes the oldest checkpoint inside it, before writing the new one.
    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        self.check_finite(runner)
        stale = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_bytes(self.last_ckpt.encode('utf-8'),
                           osp.join(runner.work_dir, 'last_checkpoint'))
        keep = self._paths_in_use()
        for old_step in stale:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step))
            if path in keep:
                continue
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
