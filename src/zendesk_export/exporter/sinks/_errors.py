"""Why an output cannot be used: typed, so the CLI can print one line that says what to fix.

Every error here is raised *before* anything is written, so an output that is refused is never modified.
"""

from __future__ import annotations

__all__ = [
    "ForeignOutputError",
    "MissingDependencyError",
    "OutputCorruptError",
    "OutputInUseError",
    "SinkError",
]


class SinkError(Exception):
    """Base class: the output cannot be opened or written; the message says what to fix."""


class ForeignOutputError(SinkError):
    """The output exists but was not written by zendesk-export (or by a newer, incompatible version).

    We refuse rather than overwrite: a mistyped ``--out`` must never destroy someone's data.
    """


class OutputCorruptError(SinkError):
    """The output is ours but lost committed data (e.g. a data file shorter than its checkpoint says).

    This cannot come from a crash of ours (we sync data before the checkpoint); it means outside damage, so we
    stop instead of guessing.
    """


class OutputInUseError(SinkError):
    """Another process is writing the same file output right now."""


class MissingDependencyError(SinkError):
    """An optional dependency (pyarrow, psycopg) needed by the chosen output is not installed."""
