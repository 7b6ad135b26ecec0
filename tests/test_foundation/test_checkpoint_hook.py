"""AtomicCheckpointHook: the order of writes and deletes in a save."""
import os

import pytest
from mmengine.logging import MessageHub, MMLogger

from mmtlsi.engine import AtomicCheckpointHook
from mmtlsi.engine.checkpoint_io import atomic_write_bytes


class FakeRunner:
    """What the hook uses of a Runner; records every file event."""

    def __init__(self, work_dir, name):
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(name)
        self.logger = MMLogger.get_instance(name)
        self.iter, self.epoch = 0, 0
        self.events = []
        self.fail_next_save = False

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.fail_next_save:
            raise KeyboardInterrupt   # killed while writing
        atomic_write_bytes(b'PK', os.path.join(out_dir, filename))
        self.events.append(('write', filename))


def _hook(runner, **kwargs):
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, **kwargs)
    hook.before_train(runner)
    backend_remove = hook.file_backend.remove

    def remove(path):
        # what a kill right now would leave: last_checkpoint's target
        with open(os.path.join(runner.work_dir, 'last_checkpoint')) as f:
            named = os.path.basename(f.read())
        runner.events.append(('remove', os.path.basename(path),
                              'last_checkpoint names', named))
        backend_remove(path)

    hook.file_backend.remove = remove
    return hook


def _save(hook, runner, step):
    runner.iter = step - 1
    hook._save_checkpoint(runner)
    with open(os.path.join(runner.work_dir, 'last_checkpoint')) as f:
        runner.events.append(('last', os.path.basename(f.read())))


def test_new_checkpoint_and_marker_before_old_one_is_deleted(tmp_path):
    runner = FakeRunner(tmp_path, 'ckpt-hook-order')
    hook = _hook(runner, max_keep_ckpts=1)
    _save(hook, runner, 2)
    _save(hook, runner, 4)
    assert runner.events == [
        ('write', 'iter_2.pth'), ('last', 'iter_2.pth'),
        ('write', 'iter_4.pth'),
        ('remove', 'iter_2.pth', 'last_checkpoint names', 'iter_4.pth'),
        ('last', 'iter_4.pth')]
    assert sorted(os.listdir(tmp_path)) == ['iter_4.pth', 'last_checkpoint']
    assert runner.message_hub.get_info('keep_ckpt_ids') == [4]


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path):
    runner = FakeRunner(tmp_path, 'ckpt-hook-kill')
    hook = _hook(runner, max_keep_ckpts=1)
    _save(hook, runner, 2)
    runner.fail_next_save = True
    with pytest.raises(KeyboardInterrupt):
        _save(hook, runner, 4)
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')


def test_restart_removes_temp_files_and_superseded_checkpoints(tmp_path):
    runner = FakeRunner(tmp_path, 'ckpt-hook-restart')
    # state of a run killed after writing iter_4 + last_checkpoint, before
    # deleting iter_2, and during the save of iter_6
    for name in ('iter_2.pth', 'iter_4.pth', 'best_x_iter_2.pth'):
        (tmp_path / name).write_bytes(b'PK')
    (tmp_path / '.iter_6.pth.a1b2c3d4.tmp').write_bytes(b'PK')
    runner.message_hub.update_info('keep_ckpt_ids', [4])
    _hook(runner, max_keep_ckpts=1)
    assert sorted(os.listdir(tmp_path)) == ['best_x_iter_2.pth',
                                            'iter_4.pth']


def test_checkpoint_hook_default_backend_is_atomic(tmp_path):
    from mmtlsi.engine import AtomicLocalBackend
    runner = FakeRunner(tmp_path, 'ckpt-hook-backend')
    hook = AtomicCheckpointHook(interval=2, by_epoch=False)
    hook.before_train(runner)
    assert isinstance(hook.file_backend, AtomicLocalBackend)
