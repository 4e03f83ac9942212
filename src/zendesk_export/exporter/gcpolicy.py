"""How often CPython's cycle collector runs while an export is under way.

A decoded 1000-ticket page is a tree of tens of thousands of small dicts and lists. With CPython's default
thresholds (a young-generation pass every 700 new container objects) each page triggers dozens of passes over
the survivors, and the survivors promoted to the old generation make the periodic full passes walk
everything still alive. None of it is garbage the collector could free: JSON decodes into trees, and a page's
objects go by reference counting the moment the page is written. So while :func:`fewer_collections` is active
the young generation's threshold is :data:`RUN_THRESHOLD`; memory stays bounded (a page at a time), and the
collector still runs, only a hundred times less often.

The first entry saves the process's thresholds and the last exit restores them (runs may nest, or run side by
side in threads). A process that disabled the collector, or set a higher threshold, is left alone; a threshold
the caller changes during the run stands.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RUN_THRESHOLD", "fewer_collections"]

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
