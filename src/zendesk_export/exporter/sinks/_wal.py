"""SQLite's write-ahead log copied into the database file on a thread of its own, not in the writer's commits.

In WAL mode a commit appends the page's rows to the log; from time to time the log is *checkpointed*: its frames
are copied into the database file and both files are fsynced (``synchronous = NORMAL`` syncs at checkpoints
only). SQLite does that inside the commit that crosses ``wal_autocheckpoint`` frames, so every third page or so
of an export waited for two fsyncs and an 8 MB copy: a tenth of the SQLite sink's time. Here a thread with a
connection of its own runs a ``PASSIVE`` checkpoint after each commit it is told of (several commits while it
works make one more pass): it never blocks the writer, its fsyncs and copies run beside the next page (SQLite
releases the GIL), and the log restarts from its beginning as soon as a pass has caught up. The writer keeps an
automatic checkpoint at :data:`WRITER_CHECKPOINT_FRAMES` as a bound in case this thread falls behind.

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


class BackgroundCheckpoints:
    """A thread that checkpoints ``path``'s log after commits (``committed``) until ``close``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoints", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit added frames to the log: make a pass (one for any number of commits while busy)."""
        self._wake.set()

    def close(self) -> None:
        """Stop after the pass under way, if any; the writer's close makes the last checkpoint."""
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
