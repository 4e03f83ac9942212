"""SQLite's write-ahead log copied into the database file on a thread of its own, not in the writer's commits.

In WAL mode a commit appends the page's rows to the log; from time to time the log is *checkpointed*: its frames
are copied into the database file and both files are fsynced (``synchronous = NORMAL`` syncs at checkpoints
only). SQLite does that inside the commit that crosses ``wal_autocheckpoint`` frames, so every third page or so
of an export waited for two fsyncs and an 8 MB copy: a tenth of the SQLite sink's time. Here a thread with a
connection of its own (one per database file in a process) runs a ``PASSIVE`` checkpoint after each commit it
is told of (several commits while it works make one more pass): it never blocks the writer, its fsyncs and
copies run beside the next page (SQLite releases the GIL), and the log restarts from its beginning as soon as a
pass has caught up. The writer keeps an automatic checkpoint at :data:`WRITER_CHECKPOINT_FRAMES` as a bound
in case this thread falls behind.

Durability is SQLite's own either way: a checkpoint only copies committed frames, and a process killed in the
middle of one leaves a log that the next connection replays.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

__all__ = ["WRITER_CHECKPOINT_FRAMES", "BackgroundCheckpoints"]

#: The writer's own automatic checkpoint: only when the log holds this many frames (32 MB of 8 KB pages),
#: i.e. when the background passes fall behind.
WRITER_CHECKPOINT_FRAMES = 4000

_SHARED_LOCK = threading.Lock()
_SHARED: dict[Path, BackgroundCheckpoints] = {}  # by database file: BackgroundCheckpoints.of


class BackgroundCheckpoints:
    """A thread that checkpoints ``path``'s log after commits (``committed``) until ``close``; one per database
    file in a process, shared by its connections (:meth:`of`)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._users = 0
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoints", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, path: Path) -> BackgroundCheckpoints:
        """The checkpoints of ``path`` that every connection of this process to it shares (each ``close``s it
        once). One thread per file, not one per connection: a whole-account export writes its streams through
        a connection each, and a dozen threads checkpointing one file in turn kept its log from restarting
        (1.8-1.9 GB at its peak for a 0.9 GB database; 0.77 GB with one thread, 67-94 MB once the writers also
        take turns: ``sqlite._writers_turn``)."""
        key = path.resolve()
        with _SHARED_LOCK:
            found = _SHARED.get(key)
            if found is None:
                found = _SHARED[key] = cls(key)
            found._users += 1
            return found

    def committed(self) -> None:
        """A commit added frames to the log: make a pass (one for any number of commits while busy)."""
        self._wake.set()

    def close(self) -> None:
        """Let go of the checkpoints; the last user stops them after the pass under way, if any (the writer's
        close makes the last checkpoint)."""
        with _SHARED_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            if _SHARED.get(self._path) is self:
                del _SHARED[self._path]
        self._closing = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closing:
                    return
                self._checkpoint(conn)
        finally:
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        with suppress(sqlite3.Error):  # busy or failing: the next commit asks again; the writer's own is the bound
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
