"""What a whole-account export fetches, declared once: every stream's endpoint, paging, data key and budget.

Three kinds:

* ``tickets`` -- the incremental ticket export of :mod:`.export` (windows, cursor mode, sideloads), unchanged;
* ``incremental`` -- a time-based incremental export (``start_time`` → ``end_time`` until ``end_of_stream``),
  resumed from the stream's own checkpoint;
* ``reference`` -- a list paged with a cursor (``page[size]=100``), walked whole every run: a *refresh*. Its
  rows carry the number of the refresh that last saw them; once the last page is written, the rows it did not
  see are marked deleted in the same transaction. An interrupted refresh walks the list again from its start
  (newest-first lists put what was created meanwhile before the old cursor).

Budgets: the incremental kinds share Zendesk's incremental-export limit (10 requests a minute, 30 with High
Volume), the reference lists the account's plan limit. The table a stream writes is ``sinks._tables.TABLES``'s
entry of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import ConfigError

__all__ = ["STREAMS", "STREAM_NAMES", "Stream", "parse_streams", "stream"]


@dataclass(frozen=True)
class Stream:
    """One stream: its name (also its table's), endpoint path, kind, the response's array key, and fixed
    query parameters."""

    name: str
    path: str
    kind: str  # "tickets", "incremental" or "reference"
    data_key: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def incremental(self) -> bool:
        """Whether the stream spends the incremental-export budget."""
        return self.kind != "reference"


def _reference(name: str) -> Stream:
    return Stream(name, f"/api/v2/{name}.json", "reference", name)


STREAMS: tuple[Stream, ...] = (
    Stream("tickets", "/api/v2/incremental/tickets.json", "tickets", "tickets"),
    Stream("ticket_events", "/api/v2/incremental/ticket_events.json", "incremental", "ticket_events",
           {"include": "comment_events"}),
    Stream("ticket_metric_events", "/api/v2/incremental/ticket_metric_events.json", "incremental",
           "ticket_metric_events"),
    Stream("users", "/api/v2/incremental/users.json", "incremental", "users"),
    Stream("organizations", "/api/v2/incremental/organizations.json", "incremental", "organizations"),
    *(_reference(name) for name in (
        "groups", "brands", "ticket_fields", "ticket_forms", "user_fields", "organization_fields",
        "group_memberships", "organization_memberships", "satisfaction_ratings", "ticket_metrics")),
)
STREAM_NAMES: tuple[str, ...] = tuple(stream.name for stream in STREAMS)
_BY_NAME = {stream.name: stream for stream in STREAMS}


def parse_streams(text: str | Sequence[str]) -> tuple[str, ...]:
    """``tickets,users`` → the named streams in declaration order; ``all`` (or empty) → every stream."""
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not names or names == ["all"]:
        return STREAM_NAMES
    unknown = [name for name in names if name not in _BY_NAME]
    if unknown:
        raise ConfigError(f"unknown stream {', '.join(unknown)}; known: {', '.join(STREAM_NAMES)} (or all)")
    return tuple(name for name in STREAM_NAMES if name in names)


def stream(name: str) -> Stream:
    return _BY_NAME[name]
