import os

import pytest

from mmtlsi.engine.checkpoint_io import AtomicLocalBackend, atomic_write_bytes


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / 'sub' / 'iter_10.pth'
    atomic_write_bytes(b'old', path)
    atomic_write_bytes(b'new-content', path)
    assert path.read_bytes() == b'new-content'
    assert [p.name for p in path.parent.iterdir()] == ['iter_10.pth']


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    atomic_write_bytes(b'complete', path)

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # a run killed between write and rename

    monkeypatch.setattr(os, 'replace', broken_replace)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(b'half', path)
    assert path.read_bytes() == b'complete'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ckpt.pth']


def test_backend_is_registered_for_checkpoint_hooks(tmp_path):
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(str(tmp_path),
                               backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put_text('iter_4.pth', tmp_path / 'last_checkpoint')
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_4.pth'


def test_checkpoint_gets_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_bytes(b'x', tmp_path / 'a.pth')
    finally:
        os.umask(old)
    assert (tmp_path / 'a.pth').stat().st_mode & 0o777 == 0o640


def test_disk_full_names_the_file_and_leaves_no_temp(tmp_path, monkeypatch):
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full)
    target = tmp_path / 'iter_8.pth'
    with pytest.raises(OSError) as e:
        atomic_write_bytes(b'data', target)
    assert e.value.errno == errno.ENOSPC
    assert str(target) in str(e.value) and 'No space left' in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_permission_error_names_the_file(tmp_path, monkeypatch):
    import tempfile

    def denied(prefix, suffix, dir):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(tempfile, 'mkstemp', denied)
    with pytest.raises(PermissionError) as e:
        atomic_write_bytes(b'x', tmp_path / 'a.pth')
    assert str(tmp_path / 'a.pth') in str(e.value)
    assert 'Permission denied' in str(e.value)


def test_temp_files_of_a_killed_save_are_removed(tmp_path):
    from mmtlsi.engine.checkpoint_io import remove_temp_files
    (tmp_path / '.iter_4.pth.ab12CD_9.tmp').write_bytes(b'half')
    (tmp_path / '.last_checkpoint.zz99yy88.tmp').write_bytes(b'')
    (tmp_path / 'iter_2.pth').write_bytes(b'keep')
    (tmp_path / 'notes.tmp').write_bytes(b'not ours')
    removed = remove_temp_files(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == [
        '.iter_4.pth.ab12CD_9.tmp', '.last_checkpoint.zz99yy88.tmp']
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'iter_2.pth', 'notes.tmp']


def _ckpt(path, value):
    import torch
    torch.save({'w': torch.tensor([value])}, path)


def test_resume_falls_back_to_newest_complete_checkpoint(tmp_path):
    from mmtlsi.engine.checkpoint_io import find_resume_checkpoint
    work = str(tmp_path)
    assert find_resume_checkpoint(work) == (None, None)
    _ckpt(tmp_path / 'iter_2.pth', 2.0)
    _ckpt(tmp_path / 'iter_10.pth', 10.0)
    _ckpt(tmp_path / 'best_mIoU_iter_12.pth', 12.0)   # no optimizer state
    (tmp_path / 'iter_12.pth').write_bytes(b'PK\x03\x04truncated')
    # last_checkpoint names an existing complete file: taken as it is
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resume_checkpoint(work) == (str(tmp_path / 'iter_2.pth'),
                                            None)
    # it names a deleted file: the newest complete iter_N.pth, with a warning
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_14.pth'))
    path, warning = find_resume_checkpoint(work)
    assert path == str(tmp_path / 'iter_10.pth')
    assert 'iter_14.pth' in warning and 'iter_10.pth' in warning
    # nothing left to resume from: a clear error, never a silent restart
    for name in ('iter_2.pth', 'iter_10.pth'):
        os.remove(tmp_path / name)
    with pytest.raises(FileNotFoundError, match='without --resume'):
        find_resume_checkpoint(work)


def test_work_dir_lock_refuses_a_second_live_run(tmp_path):
    import subprocess
    import sys

    from mmtlsi.engine.checkpoint_io import WorkDirLock
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import sys, time; sys.path.insert(0, sys.argv[2]);'
         'from mmtlsi.engine.checkpoint_io import WorkDirLock;'
         'WorkDirLock(sys.argv[1]).acquire(); print("locked", flush=True);'
         'time.sleep(60)', str(tmp_path),
         os.path.dirname(os.path.dirname(os.path.dirname(
             os.path.abspath(__file__))))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(RuntimeError, match=f'pid {holder.pid}'):
            WorkDirLock(str(tmp_path)).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the killed holder left nothing stuck
    lock = WorkDirLock(str(tmp_path)).acquire()
    lock.release()


def test_moved_or_copied_work_dir_resumes_from_its_own_files(tmp_path):
    import shutil

    from mmtlsi.engine.checkpoint_io import find_resume_checkpoint
    old = tmp_path / 'scratch' / 'run'
    old.mkdir(parents=True)
    _ckpt(old / 'iter_2.pth', 2.0)
    _ckpt(old / 'iter_4.pth', 4.0)
    (old / 'last_checkpoint').write_text(str(old / 'iter_2.pth'))
    copy = tmp_path / 'home' / 'run'
    shutil.copytree(old, copy)
    # the original still exists: the copy resumes from its own iter_2
    assert find_resume_checkpoint(str(copy)) == (str(copy / 'iter_2.pth'),
                                                 None)
    # the copy lacks the named file: its own newest, never the original
    os.remove(copy / 'iter_2.pth')
    path, warning = find_resume_checkpoint(str(copy))
    assert path == str(copy / 'iter_4.pth')
    assert str(old / 'iter_2.pth') in warning
    # no checkpoint of its own (a hook with out_dir): the named file, said
    os.remove(copy / 'iter_4.pth')
    path, warning = find_resume_checkpoint(str(copy))
    assert path == str(old / 'iter_2.pth') and 'outside' in warning
