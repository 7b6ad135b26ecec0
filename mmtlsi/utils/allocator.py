"""Keeping freed memory in the process instead of giving it back to the
kernel after every forward (glibc's malloc).

glibc serves a large allocation with a mapping of its own and unmaps it
when it is freed, and it trims the free top of its heap; both give pages
back to the kernel. A network frees and allocates the same large tensors
at every call, so every call faults those pages in again and the kernel
zeroes each one first. A Swin-T NYUDv2 forward (448x576, 2 threads) took
about 230k minor page faults (0.9 GiB) and 0.55 s of system time per call
that way, and ran 4-12% faster without them (docs/results.md).

:func:`retain_freed_memory` sets glibc's ``M_MMAP_MAX`` to 0 (no
allocation gets a mapping of its own; the heap serves all of them) and
``M_TRIM_THRESHOLD`` to its largest value (the heap is not trimmed), so a
freed block is reused as it is. The process's resident memory then stays
at its high-water mark between calls instead of falling back, and that mark
can be higher where many large blocks share the one heap (a Swin-T CPU
training step: +11%). The train, test and benchmark tools call it at
their start; ``MMTLSI_MALLOC=system`` in the environment keeps glibc's
defaults.

Memory meters that read the resident set call :func:`release_free_memory`
first: what an earlier computation left free in the heap would otherwise
hide part of the next one's working memory.
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys

__all__ = ['MALLOC_ENV', 'malloc_mode', 'release_free_memory',
           'retain_freed_memory']

#: environment variable: ``retain`` (default) or ``system``
MALLOC_ENV = 'MMTLSI_MALLOC'

# mallopt(3) parameters of glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1

_state = {'mode': None}


def _glibc():
    if not sys.platform.startswith('linux') or \
            platform.libc_ver()[0] != 'glibc':
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, 'mallopt') else None
    except OSError:
        return None


def retain_freed_memory(environ=None) -> str:
    """Make this process's malloc keep freed memory for reuse (see the
    module), unless ``MMTLSI_MALLOC=system``; returns what holds now, as
    :func:`malloc_mode` does.

    Raises ValueError for another value of ``MMTLSI_MALLOC``. Elsewhere than
    on glibc it changes nothing and says so. Calling it again changes
    nothing more."""
    environ = os.environ if environ is None else environ
    wanted = environ.get(MALLOC_ENV, 'retain')
    if wanted not in ('retain', 'system'):
        raise ValueError(f'{MALLOC_ENV}={wanted!r}: choose retain (keep '
                         f'freed memory for reuse, the default) or system '
                         f"(the C library's defaults)")
    if wanted == 'system' or _state['mode'] is not None:
        return malloc_mode()
    libc = _glibc()
    if libc is None:
        _state['mode'] = 'system: not glibc, left as it is'
    elif libc.mallopt(_M_MMAP_MAX, 0) != 1 or \
            libc.mallopt(_M_TRIM_THRESHOLD, _INT_MAX) != 1:
        _state['mode'] = 'system: glibc refused mallopt'
    else:
        _state['mode'] = ('retain: freed memory kept for reuse (glibc '
                          'M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1)')
    return malloc_mode()


def malloc_mode() -> str:
    """How this process's malloc treats freed memory: ``'retain: ...'``
    after :func:`retain_freed_memory`, else ``'system: ...'``."""
    return _state['mode'] or "system: the C library's defaults"


def release_free_memory() -> bool:
    """Give the heap's free pages back to the kernel now (glibc's
    ``malloc_trim(0)``), so that the resident set counts memory in use
    only; False where there is no glibc."""
    libc = _glibc()
    if libc is None or not hasattr(libc, 'malloc_trim'):
        return False
    libc.malloc_trim(0)
    return True
