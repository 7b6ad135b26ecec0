"""File writing helpers shared by the package's writers."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Union

__all__ = ['naming_path']


@contextlib.contextmanager
def naming_path(path: Union[str, os.PathLike]) -> Iterator[None]:
    """Re-raise an ``OSError`` of the block with ``path`` in its message.

    The OS names no file when a write fails for lack of space (``ENOSPC``)
    or quota; the error keeps its type and errno, and gains the path. Errors
    that already carry a file name (``open`` of a missing folder, no
    permission) pass through unchanged.
    """
    try:
        yield
    except OSError as e:
        if e.filename is not None:
            raise
        raise type(e)(e.errno, f'cannot write {os.fspath(path)}: '
                      f'{e.strerror or e}') from e
