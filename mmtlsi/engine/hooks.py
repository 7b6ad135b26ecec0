"""Hooks."""
from __future__ import annotations

import os
import os.path as osp
import re
from contextlib import contextmanager
from typing import Sequence

import mmcv
from mmengine import fileio
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmtlsi.registry import HOOKS

from .checkpoint_io import atomic_write_bytes, remove_temp_files


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
    was killed. Same arguments as ``CheckpointHook``.
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

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
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


@HOOKS.register_module()
class MultiTaskVisualizationHook(SegVisualizationHook):
    """Draws every ``interval``-th validation / test sample with the
    visualizer (``MultiTaskVisualizer`` in mmtlsi's configs).

    Same options as mmseg's ``SegVisualizationHook``. Unlike it, drawing
    during ``tools/test.py`` does not read ``runner.iter``, which makes the
    Runner build the training loop, and with it the training dataset, in a
    test-only run (slow, and an error where only the test split exists).
    Pictures are named ``<mode>_<image name>_<step>.png``.
    """

    def _after_iter(self, runner, batch_idx: int, data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        step = runner.iter if mode == 'val' else 0
        for output in outputs:
            img_bytes = fileio.get(output.img_path,
                                   backend_args=self.backend_args)
            img = mmcv.imfrombytes(img_bytes, channel_order='rgb')
            name = osp.splitext(osp.basename(output.img_path))[0]
            self._visualizer.add_datasample(
                f'{mode}_{name}', img, data_sample=output, show=self.show,
                wait_time=self.wait_time, step=step)
