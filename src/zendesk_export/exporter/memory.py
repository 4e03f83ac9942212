"""How an export treats the process's memory.

* :func:`fewer_collections` -- how often CPython's cycle collector runs while a run is under way;
* :func:`return_freed_memory` -- the C heap's free pages handed back to the system between two streams;
* :func:`one_malloc_arena` -- the command's threads share one C heap instead of one each.

The cycle collector. A decoded 1000-ticket page is a tree of tens of thousands of small dicts and lists.
With CPython's default thresholds (a young-generation pass every 700 new container objects) each page triggers
dozens of passes over the survivors, and the survivors promoted to the old generation make the periodic full
passes walk everything still alive. None of it is garbage the collector could free: JSON decodes into trees,
and a page's objects go by reference counting the moment the page is written. So while
:func:`fewer_collections` is active the young generation's threshold is :data:`RUN_THRESHOLD`; memory stays
bounded (a page at a time), and the collector still runs, only a hundred times less often.

The first entry saves the process's thresholds and the last exit restores them (runs may nest, or run side by
side in threads). A process that disabled the collector, or set a higher threshold, is left alone; a threshold
the caller changes during the run stands.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RUN_THRESHOLD", "fewer_collections", "one_malloc_arena", "return_freed_memory"]

RUN_THRESHOLD = 100_000  # new container objects between two young-generation passes during a run

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None  # the thresholds to restore; None: nothing was changed


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's young-generation threshold for the duration (usable as a decorator too)."""
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _active, _saved
    with _lock:
        _active += 1
        if _active > 1:
            return
        young, middle, old = gc.get_threshold()
        if gc.isenabled() and 0 < young < RUN_THRESHOLD:
            _saved = (young, middle, old)
            gc.set_threshold(RUN_THRESHOLD, middle, old)


def _leave() -> None:
    global _active, _saved
    with _lock:
        _active -= 1
        if _active or _saved is None:
            return
        if gc.get_threshold()[0] == RUN_THRESHOLD:
            gc.set_threshold(*_saved)
        _saved = None


def return_freed_memory() -> bool:
    """Hand the C heap's free pages back to the system where the C library can (glibc's ``malloc_trim``);
    whether it could.

    The objects of a page too large for CPython's small-object allocator (a ticket's dict, its long strings)
    come from ``malloc``, and glibc keeps what they freed in the heap that served them, for its next requests.
    A stream that ends leaves that high-water mark resident, and the next stream grows on top of it: the
    run's resident memory becomes the sum of its streams' peaks rather than the largest. The call takes a
    fraction of a millisecond, once a stream."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def one_malloc_arena() -> bool:
    """Have every thread the process starts from now on allocate from glibc's main heap (``mallopt``'s
    ``M_ARENA_MAX`` of 1); whether the C library took it.

    By default glibc gives each thread that allocates under contention a heap (an *arena*) of its own, up to
    eight per core, and each keeps its own free pages: an export's threads (a stream's writer, the look-ahead
    parsing its next page, the reference lists beside them) each hold a high-water mark of their own. The
    threads of an export take turns on the GIL for nearly every allocation, so one heap costs them nothing
    measurable, and the whole-account Parquet export peaks ~10 MB lower (``docs/benchmarks.md``). A
    process-wide setting: the command sets it; a program calling the library decides for itself."""
    libc = _glibc()
    return libc is not None and libc.mallopt(_M_ARENA_MAX, 1) == 1


_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The running C library when it is glibc (it has ``malloc_trim``); None elsewhere (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim  # noqa: B018 -- the attribute lookup is the check
    except (AttributeError, OSError, TypeError):
        return None
    return libc
