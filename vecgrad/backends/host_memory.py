"""Keep freed host memory for reuse instead of giving it back to the OS after every op.

A training step of a convolutional net allocates and frees the same large arrays every
step (im2col's patch matrix: 5 MB for LeNet-5's first layer). glibc's malloc hands
blocks that large to the OS on free (mmap/munmap, or by trimming the heap top), so the
next step pays a page fault per 4 KiB page to get them back: 2,600 faults per LeNet-5
step, a fifth of its time (measured; PyTorch's step makes ~25). Raising glibc's mmap and
trim thresholds once makes such blocks come from, and go back to, the heap, like a
caching allocator: the process keeps its peak memory instead of returning it.

`keep_freed_memory()` does that the first time the numpy backend is created, with
glibc's mallopt (nothing on other C libraries). Set VECGRAD_MALLOC=system to leave
malloc's own settings alone; `describe()` says what was done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024

_state = {"done": False, "text": "malloc untouched (numpy backend not used yet)"}


def keep_freed_memory() -> None:
    """Raise glibc's mmap/trim thresholds once per process (see the module docstring)."""
    if _state["done"]:
        return
    _state["done"] = True
    choice = os.environ.get("VECGRAD_MALLOC", "keep").strip().lower()
    if choice == "system":
        _state["text"] = "malloc settings left alone (VECGRAD_MALLOC=system)"
        return
    if choice not in ("keep", ""):
        raise ValueError(f"VECGRAD_MALLOC={choice!r}: use keep (the default) or system")
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        mallopt.restype = ctypes.c_int
        gnu = hasattr(libc, "gnu_get_libc_version")
    except (OSError, AttributeError):
        gnu = False
    if not gnu:
        _state["text"] = "malloc settings left alone (not glibc)"
        return
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD,
                                                                  TRIM_THRESHOLD)
    _state["text"] = (f"glibc malloc keeps freed blocks up to {MMAP_THRESHOLD >> 20} MiB "
                      f"for reuse (VECGRAD_MALLOC=system to leave it alone)" if ok else
                      "glibc refused the malloc thresholds; left as they were")


def describe() -> str:
    return _state["text"]
