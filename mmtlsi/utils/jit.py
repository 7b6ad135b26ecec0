"""Compile a kernel with numba, cached on disk when a place to write exists.

``cache=True`` needs a writable cache directory (``__pycache__`` next to the
source file, else numba's user-wide cache) when the function is decorated;
where there is none numba raises, and the kernel is compiled in memory in each
process instead.
"""
import numba


def njit_cached(fn):
    """``numba.njit(cache=True, nogil=True)``, in memory if it cannot cache."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:
        return numba.njit(nogil=True)(fn)
