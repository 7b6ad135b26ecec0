"""AtomicCheckpointHook: the order of writes and deletes in a save."""
import inspect
import os

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.logging import MessageHub, MMLogger

from mmtlsi.engine import AtomicCheckpointHook, NonFiniteStateError
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
        self.model = torch.nn.Linear(2, 1)
        self.optim_wrapper = None

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


def test_mmengine_private_method_overridden_has_the_pinned_signature():
    # AtomicCheckpointHook overrides this one private method of mmengine's
    # CheckpointHook; a changed signature must fail here, not in a run
    params = list(inspect.signature(
        CheckpointHook._save_checkpoint_with_step).parameters)
    assert params == ['self', 'runner', 'step', 'meta']
    assert list(inspect.signature(
        AtomicCheckpointHook._save_checkpoint_with_step).parameters) == params
    source = inspect.getsource(CheckpointHook._save_checkpoint)
    assert '_save_checkpoint_with_step(runner, step, meta=meta)' in source


@pytest.mark.parametrize('where', ['weight', 'optimizer'])
def test_non_finite_state_is_never_saved_and_good_one_stays(tmp_path, where):
    runner = FakeRunner(tmp_path, f'ckpt-hook-nonfinite-{where}')
    optimizer = torch.optim.AdamW(runner.model.parameters())
    runner.model(torch.ones(1, 2)).sum().backward()
    optimizer.step()

    class Wrapper:
        def state_dict(self):
            return optimizer.state_dict()

    runner.optim_wrapper = Wrapper()
    hook = _hook(runner, max_keep_ckpts=1)
    _save(hook, runner, 2)
    with torch.no_grad():
        if where == 'weight':
            runner.model.bias.fill_(float('nan'))
        else:
            optimizer.state[runner.model.weight]['exp_avg'][0, 1] = \
                float('inf')
    with pytest.raises(NonFiniteStateError,
                       match='iteration 4: (bias|optimizer state 0.exp_avg)'):
        _save(hook, runner, 4)
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
