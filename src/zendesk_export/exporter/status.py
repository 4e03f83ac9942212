"""``zendesk-export status --out …``: what an output holds, stream by stream.

For every stream: its checkpoint (where the next run resumes), its rows (and how many are marked deleted),
when it was last written, and whether its last run reached the end. The SQL outputs keep all of it in
``stream_checkpoints``, the file outputs in their state file; an output written before streams existed is
described from its ticket checkpoint, with "complete" unknown.
"""

from __future__ import annotations

from typing import Any

from .errors import OutputError
from .export import _output_errors
from .moments import describe_checkpoint
from .outputs import parse_output
from .sinks._tables import TABLES
from .sinks.base import Checkpoint, StreamState, StreamStatus
from .streams import STREAM_NAMES

__all__ = ["describe_status", "read_status", "status_document"]


def read_status(out: str) -> list[StreamStatus]:
    """Every stream's status in ``out``; an :class:`OutputError` when there is no export there or it cannot be
    read. Nothing is written to an existing output."""
    output = parse_output(out)
    if output.path is not None and not output.path.exists():
        raise OutputError(f"no export at {out}: run zendesk-export export --out {out} first")
    from .sinks import open_sink  # imported late: sinks may pull optional dependencies

    try:
        sink = open_sink(out)
        try:
            return _status(sink)
        finally:
            sink.close()
    except _output_errors() as error:
        raise OutputError(f"cannot read output {out!r}: {error}") from None


def _status(sink: Any) -> list[StreamStatus]:
    checkpoint: Checkpoint | None = sink.load_checkpoint()
    report: list[StreamStatus] = sink.stream_status([TABLES[name] for name in STREAM_NAMES])
    tickets = report[0]
    if tickets.state is None and checkpoint is not None:  # an export made before streams existed
        report[0] = StreamStatus("tickets", _ticket_state(checkpoint), tickets.rows, tickets.deleted)
    return report


def _ticket_state(checkpoint: Checkpoint | None) -> StreamState | None:
    if checkpoint is None:
        return None
    return StreamState("tickets", checkpoint.mode, checkpoint.position, checkpoint.source, complete=False)


def _where(state: StreamState) -> str:
    if state.mode == "list":
        return "refresh done" if state.complete else f"refresh {state.refresh} under way, at cursor {state.position}"
    return describe_checkpoint(Checkpoint(state.mode, state.position, state.source))


def describe_status(report: list[StreamStatus]) -> list[str]:
    """One line per stream, aligned, for people."""
    lines = [f"{'stream':<26}{'rows':>10}{'deleted':>9}  {'complete':<9}{'last run':<22}resumes from"]
    for item in report:
        state = item.state
        if state is None:
            lines.append(f"{item.stream:<26}{item.rows:>10}{item.deleted:>9}  {'-':<9}{'never':<22}-")
            continue
        complete = "yes" if state.complete else "no"
        lines.append(f"{item.stream:<26}{item.rows:>10}{item.deleted:>9}  {complete:<9}"
                     f"{(state.written_at or '-')[:19]:<22}{_where(state)}")
    return lines


def status_document(report: list[StreamStatus]) -> dict[str, Any]:
    """The same, for machines: ``{"streams": {name: {...}}}``."""
    streams: dict[str, Any] = {}
    for item in report:
        state = item.state
        streams[item.stream] = {
            "rows": item.rows, "deleted": item.deleted,
            "complete": None if state is None else state.complete,
            "last_run": None if state is None else state.written_at,
            "checkpoint": None if state is None else {"mode": state.mode, "position": state.position,
                                                      "refresh": state.refresh},
        }
    return {"streams": streams}
