"""Refusing to resume a run with another number of samples per iteration."""
from __future__ import annotations

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmtlsi.registry import HOOKS


class ResumeMismatchError(RuntimeError):
    """The resumed checkpoint was written with another world or batch
    size."""


@HOOKS.register_module()
class ResumeCheckHook(Hook):
    """Stops a resumed run whose processes or batch size differ from the
    run that wrote the checkpoint.

    mmengine resumes the iteration and the LR schedule and skips as many
    batches as iterations were done; with another number of processes, or
    another batch size per process, that skips another number of samples
    than were seen, and every later iteration sees other samples than the
    interrupted run would have. The checkpoint's ``meta`` holds
    ``world_size`` and ``batch_size`` (written by ``AtomicCheckpointHook``);
    a mismatch is an error that says how to go on. A checkpoint without
    them (loaded with ``load_from`` into a new run, or older) is not
    checked.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._saved = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        self._saved = (meta.get('world_size'), meta.get('batch_size'))

    def before_train(self, runner) -> None:
        if self._saved is None or runner.iter == 0 or None in self._saved:
            return
        saved_world, saved_batch = self._saved
        world = get_world_size()
        batch = runner.train_dataloader.batch_size
        if (saved_world, saved_batch) == (world, batch):
            return
        raise ResumeMismatchError(
            f'the checkpoint of iteration {runner.iter} was written by '
            f'{saved_world} process(es) x batch size {saved_batch}, this run '
            f'has {world} x {batch}: resuming would skip another number of '
            f'samples than were seen and go on with other batches. Resume '
            f'with {saved_world} process(es) (e.g. tools/dist_train.sh '
            f'CONFIG {saved_world} --resume) and '
            f'train_dataloader.batch_size={saved_batch}; or start a new run '
            f'from its weights with --cfg-options load_from=CHECKPOINT '
            f'(iteration 0, a new LR schedule) in another --work-dir.')
