"""Checkpoint files that survive a kill at any moment.

mmengine writes a checkpoint with a plain ``open(path, 'wb')``: a run killed
during the write leaves a truncated file under the checkpoint's final name.
``AtomicLocalBackend`` writes to a temporary file in the same folder, flushes
it to disk and renames it over the target, so a checkpoint file is either the
old one, the new one, or absent. ``AtomicCheckpointHook``
(``hooks/checkpoint_hook.py``) uses it and deletes old checkpoints only once
the new one and ``last_checkpoint`` are on disk.

This module also holds what a restarted run needs: removing the temporary
files of a killed save, finding the checkpoint to resume from when
``last_checkpoint`` names a file that is gone, and the work-dir lock that
keeps two live runs from writing into one folder.
"""
from __future__ import annotations

import errno
import os
import os.path as osp
import re
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple, Union

from mmengine.fileio import LocalBackend, register_backend

#: ``.<target name>.<8 random characters>.tmp``, as ``atomic_write_bytes``
#: names its temporary files
TEMP_FILE = re.compile(r'^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$')
#: regular (resumable) checkpoints; ``best_*`` ones hold no optimizer state
RESUMABLE = re.compile(r'^(?:iter|epoch)_(?P<step>\d+)\.pth$')
LOCK_NAME = '.mmtlsi-train.lock'


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so readers never see a partial file.

    The file gets the permissions of any file the user creates (0666 minus
    the umask). A failed write (disk full, no permission) raises an
    ``OSError`` of the same kind whose message names ``filepath``, and leaves
    neither a partial file nor a temporary one behind.
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    tmp_path = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(
            prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=folder)
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
        tmp_path = None
    except OSError as e:
        raise type(e)(e.errno, f'cannot write {filepath}: '
                      f'{e.strerror or e}') from e
    finally:
        if tmp_path is not None and osp.exists(tmp_path):
            os.remove(tmp_path)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """Local file backend whose writes are atomic (write, fsync, rename)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


def remove_temp_files(folder: str) -> List[str]:
    """Delete the temporary files a killed ``atomic_write_bytes`` left in
    ``folder``; returns their paths."""
    if not osp.isdir(folder):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if TEMP_FILE.match(name) and osp.isfile(path):
            os.remove(path)
            removed.append(path)
    return removed


def is_complete_checkpoint(path: str) -> bool:
    """True for a file that ends as a ``torch.save`` (zip) archive ends; a
    truncated write fails this test."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def resumable_checkpoints(folder: str) -> List[str]:
    """Complete ``iter_N.pth`` / ``epoch_N.pth`` files, newest step last."""
    if not osp.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = RESUMABLE.match(name)
        path = osp.join(folder, name)
        if match and is_complete_checkpoint(path):
            found.append((int(match['step']), path))
    return [path for _, path in sorted(found)]


def find_resume_checkpoint(work_dir: str
                           ) -> Tuple[Optional[str], Optional[str]]:
    """The checkpoint ``--resume`` continues from, and a warning if it is
    not the one ``last_checkpoint`` names, or lies outside ``work_dir``.

    ``last_checkpoint`` holds an absolute path; the file of that name in
    ``work_dir`` is taken first, so a work dir that was moved or copied
    resumes from its own files.

    Returns ``(path, warning)``. ``path`` is None when the work dir holds no
    checkpoint at all. Raises ``FileNotFoundError`` when ``last_checkpoint``
    exists but no checkpoint it could mean is left, so that a run never
    starts over silently.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(marker):
        with open(marker, encoding='utf-8', errors='replace') as f:
            named = f.read().strip()
    if named:
        # a moved or copied work dir: its own file of that name, never the
        # one in the folder it came from
        own = osp.join(work_dir, osp.basename(named))
        if is_complete_checkpoint(own):
            return own, None
        if not osp.isabs(named):
            named = osp.join(work_dir, named)
        inside = osp.realpath(osp.dirname(named)) == osp.realpath(work_dir)
        if is_complete_checkpoint(named) and (
                inside or not resumable_checkpoints(work_dir)):
            return named, None if inside else (
                f'{marker} names {named}, outside {work_dir} (a checkpoint '
                f'hook with out_dir); resuming from it')
    candidates = resumable_checkpoints(work_dir)
    if not candidates:
        if named is None:
            return None, None
        raise FileNotFoundError(
            f'{marker} names {named or "nothing"}, which is missing or '
            f'incomplete, and {work_dir} holds no other complete checkpoint '
            f'(iter_N.pth / epoch_N.pth). Start again without --resume, or '
            f'with another --work-dir, to train from the beginning.')
    newest = candidates[-1]
    if named is None:
        return newest, (f'{work_dir} has no last_checkpoint file; resuming '
                        f'from the newest complete checkpoint, {newest}')
    return newest, (f'{marker} names {named or "nothing"}, which is missing '
                    f'or incomplete; resuming from the newest complete '
                    f'checkpoint, {newest}')


class WorkDirLock:
    """An exclusive lock on a work dir for the lifetime of a training run.

    It is a POSIX record lock (``fcntl.lockf``) on ``<work_dir>/.mmtlsi-
    train.lock``: the kernel drops it when the process ends, however it ends,
    so a crashed or killed run leaves nothing stuck, and data-loader workers
    forked from the run do not inherit it. The file records the holder's pid
    for the error message.
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    def acquire(self) -> WorkDirLock:
        import fcntl
        os.makedirs(self.work_dir, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise type(e)(e.errno, f'cannot create the lock file '
                          f'{self.path}: {e.strerror or e}') from e
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EAGAIN):
                os.close(fd)
                raise
            holder = os.pread(fd, 64, 0).decode(errors='replace').strip()
            os.close(fd)
            raise RuntimeError(
                f'{self.work_dir} is in use by another live training run '
                f'(pid {holder or "unknown"}); two runs in one work dir '
                f'would overwrite each other\'s checkpoints. Wait for it to '
                f'end or choose another --work-dir.') from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
