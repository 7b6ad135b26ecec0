"""Stopping a training run on SIGTERM / SIGUSR1 with nothing lost."""
from __future__ import annotations

import signal
import threading

import torch
from mmengine.dist import all_reduce, barrier, get_world_size
from mmengine.hooks import Hook

from mmtlsi.registry import HOOKS

from .checkpoint_hook import AtomicCheckpointHook

#: exit status of a run stopped by a signal after saving its checkpoint
#: (``EX_TEMPFAIL`` of sysexits.h: try again, here with ``--resume``)
PREEMPTED_EXIT_CODE = 75


@HOOKS.register_module()
class PreemptionHook(Hook):
    """SIGTERM or SIGUSR1 (what Slurm and torchrun send before they stop a
    job): finish the iteration, save its checkpoint, exit with
    :data:`PREEMPTED_EXIT_CODE`.

    The handlers only note the signal; after each training iteration the
    ranks agree (a max all-reduce of the noted signal, only when there is
    more than one process) whether any of them got one, so every rank stops
    after the same iteration. The run's ``AtomicCheckpointHook`` then writes
    that iteration's checkpoint (atomically, old ones deleted only after it),
    all ranks wait for it, and the process exits. ``--resume`` continues
    from exactly that iteration. Further signals while stopping are noted
    and change nothing; a kill at any moment still leaves the previous
    checkpoint. A signal during the last iteration lets the run end as
    usual (exit 0).

    The handlers are installed when the hook is built, before the Runner
    forks the training data-loader workers: the workers inherit them, so a
    signal sent to the whole process group (Slurm signals every process of
    a job step) does not kill them mid-save. They are restored after the
    run.

    Args:
        signals: names of the signals that stop the run.
    """

    priority = 'LOWEST'   # after the checkpoint hook of the same iteration

    def __init__(self, signals=('SIGTERM', 'SIGUSR1')) -> None:
        self.signals = [getattr(signal, name) for name in signals]
        self.received: list = []
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        self.received.append(signum)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def before_train(self, runner) -> None:
        self._ckpt_hook = next(
            (h for h in runner.hooks if isinstance(h, AtomicCheckpointHook)),
            None)
        if self._ckpt_hook is None:
            raise ValueError(
                'PreemptionHook saves through the run\'s checkpoint hook; '
                'set default_hooks.checkpoint.type=\'AtomicCheckpointHook\'.')

    def stop_requested(self) -> int:
        """The signal any rank got (0: none); the same on every rank."""
        signum = self.received[0] if self.received else 0
        if get_world_size() > 1:
            flag = torch.tensor([signum], dtype=torch.int64)
            all_reduce(flag, op='max')
            signum = int(flag.item())
        return signum

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        signum = self.stop_requested()
        if not signum or runner.iter + 1 >= runner.max_iters:
            return
        name = signal.Signals(signum).name
        runner.logger.warning(
            f'{name}: saving the checkpoint of iteration {runner.iter + 1} '
            f'and stopping')
        path = self._ckpt_hook.save_now(runner)
        barrier()
        runner.logger.warning(
            f'{name}: stopped after iteration {runner.iter + 1}, checkpoint '
            f'{path}; continue with --resume (exit code '
            f'{PREEMPTED_EXIT_CODE})')
        # the handlers stay: a launcher's SIGTERM to the other ranks while
        # they exit (srun --kill-on-bad-exit) must not turn 75 into 143
        raise SystemExit(PREEMPTED_EXIT_CODE)

    def after_run(self, runner) -> None:
        self._restore()
