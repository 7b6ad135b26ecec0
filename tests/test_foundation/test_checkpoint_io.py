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
