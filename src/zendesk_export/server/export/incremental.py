"""The time-based incremental ticket export: Zendesk's pagination rules, exactly (reference §2.1, §3).

A page is the first ``per_page`` tickets with ``generated_timestamp >= start_time``, ordered by (timestamp, id),
excluding the last 60 seconds. A full page that is one single timestamp grows to that whole group and ends at
``ts + 1`` (so a client can never loop on one second); any other full page ends at its last timestamp (the
boundary tickets come again on the next page); a short page is the end of the stream. ``next_page`` is never
null on a non-empty page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from zendesk_export.server.errors import InvalidParameter, ParameterMissing, TooRecentStartTime
from zendesk_export.server.store import ExportRow

__all__ = [
    "MAX_PER_PAGE",
    "VISIBILITY_DELAY",
    "TimePage",
    "parse_start_time",
    "parse_per_page",
    "parse_bool",
    "time_page",
    "next_page_url",
]

MAX_PER_PAGE = 1000
VISIBILITY_DELAY = 60  # seconds: nothing changed within the last minute is exported


@dataclass(frozen=True)
class TimePage:
    rows: Sequence[ExportRow]
    end_time: int | None
    end_of_stream: bool


def parse_start_time(params: Mapping[str, str], now: float) -> int:
    """Required; integer epoch seconds (a float such as `946684800.0` is accepted); at least a minute old."""
    raw = params.get("start_time")
    if raw is None or raw == "":
        raise ParameterMissing("start_time")
    try:
        value = float(raw)
    except ValueError:
        # An ISO-8601 date is answered, read as its leading digits (Ruby's String#to_i: "2024-05-01T…" counts as
        # 2024): the Singer tap checks its access to Zendesk by sending one and expects a page (DIFFERENCES.md).
        leading = re.match(r"([0-9]{4})-[0-9]{2}-[0-9]{2}", raw)
        if leading is None:
            raise InvalidParameter(f"start_time must be an integer epoch time in seconds, got {raw!r}") from None
        value = float(leading.group(1))
    if value != value or value < 0 or value in (float("inf"), float("-inf")):
        raise InvalidParameter(f"start_time must be an integer epoch time in seconds, got {raw!r}")
    start = int(value)
    if start > now - VISIBILITY_DELAY:
        raise TooRecentStartTime()
    return start


def parse_per_page(params: Mapping[str, str], maximum: int = MAX_PER_PAGE) -> int:
    """Default and maximum 1000; larger values are clamped, non-numbers or values below 1 mean the default."""
    try:
        value = int(params.get("per_page", maximum))
    except ValueError:
        return maximum
    return maximum if value < 1 else min(value, maximum)


def parse_bool(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "").lower() in ("true", "1", "yes")


def time_page(
    rows: Sequence[ExportRow], per_page: int, whole_group: Callable[[int], Sequence[ExportRow]]
) -> TimePage:
    """Apply the page rules to the first ``per_page`` visible rows (fetched by the caller)."""
    if not rows:
        return TimePage(rows, None, True)
    if len(rows) < per_page:
        return TimePage(rows, rows[-1].generated_timestamp, True)
    first, last = rows[0].generated_timestamp, rows[-1].generated_timestamp
    if first == last:
        return TimePage(whole_group(first), first + 1, False)
    return TimePage(rows, last, False)


def next_page_url(base_url: str, path: str, params: Sequence[tuple[str, str]], position: tuple[str, str]) -> str:
    """Absolute `.json` URL on the request's host; the original params (position replaced), sorted by name."""
    name, value = position
    kept = [(k, v) for k, v in params if k not in ("start_time", "cursor")]
    query = urlencode(sorted([*kept, (name, value)]))
    return f"{base_url}{path}.json?{query}"
