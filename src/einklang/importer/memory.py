"""Giving memory back between an import's steps.

A large import reads and prepares every row (Python objects, the normalisers' caches, Arrow
buffers), then hands the work to DuckDB, which takes up to its own limit. What the reading
step freed stays with the process unless it is handed back: Python's and Arrow's allocators
keep freed memory for reuse, and the C library returns it to the system only when asked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache
from typing import Any

from einklang.match._normalize import clear_caches


def release_memory() -> None:
    """Empty the matcher's caches and return freed memory to the system where the platform can."""
    clear_caches()
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - pyarrow without release_unused
        pass
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _libc() -> Any | None:
    """glibc, which has ``malloc_trim``; None elsewhere (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None
