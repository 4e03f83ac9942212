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

__all__ = ["WRITER_CHECKPOINT_FRAMES", "SharedFile"]

#: The writer's own automatic checkpoint: only when the log holds this many frames (32 MB of 8 KB pages),
#: i.e. when the background passes fall behind.
WRITER_CHECKPOINT_FRAMES = 4000

_SHARED_LOCK = threading.Lock()
_SHARED: dict[Path, SharedFile] = {}  # by database file: SharedFile.of


class SharedFile:
    """What the connections of this process to one database file share (:meth:`of`): the writers' ``turn``,
    and a thread that checkpoints the file's log after commits (``committed``) until the last user ``close``s.

    One of each per file, not per connection. A whole-account export writes its streams through a connection
    each, from their own threads. SQLite lets one of them write at a time anyway, and one that finds the file
    locked polls, asleep up to 100 ms between tries; with some connection always in a transaction or retrying
    one, and a checkpoint thread per connection, the log found no moment to restart: 1.8-1.9 GB at its peak
    beside a 0.9 GB database (the whole account of 50,000 tickets); 0.77 GB with one checkpoint thread. Holding
    ``turn`` for each write transaction hands the file over at once: the log peaks at 67-94 MB, for 0.95 of the
    CPU time and 10 MB less memory (docs/benchmarks.md). Other processes still meet SQLite's own lock and
    ``busy_timeout``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._users = 0
        self.turn = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoints", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, path: Path) -> SharedFile:
        """The shared state of the database file ``path`` (each user ``close``s it once)."""
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
        """Let go of the file; the last user stops the checkpoints after the pass under way, if any (the
        writer's close makes the last checkpoint)."""
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
