"""Ticket metrics, derived from a ticket's audits: its metric set (`/ticket_metrics`, `include=metric_sets`) and
its metric events (`/incremental/ticket_metric_events`), both from one replay so that they always agree.

The replay walks the audits in order and tracks the requester, status, assignee and group. A public comment by
anyone but the requester is an agent reply. Durations are calendar minutes, and business minutes are the same
number: the server has no business-hours schedule (see DIFFERENCES.md). No SLA policy applies, so there are no
`apply_sla` or `breach` events.

Metric states follow the status: agent work time runs in new/open and pauses in pending/hold; requester wait
time runs in new/open/hold and pauses in pending; resolution time runs until solved. A metric that is fulfilled
and later wanted again (a reopen) starts a new instance, as Zendesk numbers them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from zendesk_export.server.model.ids import ascii_digits
from zendesk_export.tickets import format_time, parse_time

__all__ = ["METRICS", "MetricEvent", "Replay", "replay", "metric_set", "metric_events", "metric_event_json"]

# The metrics a new ticket measures, in the order Zendesk lists their `measure` events (recorded).
METRICS = ("agent_work_time", "pausable_update_time", "periodic_update_time", "reply_time", "requester_wait_time",
           "resolution_time")
_SOLVED = ("solved", "closed")
_RUNS_IN = {"agent_work_time": ("new", "open"), "requester_wait_time": ("new", "open", "hold"),
            "resolution_time": ("new", "open", "pending", "hold")}
_EVENTS_PER_AUDIT = 64  # metric event ids are audit id * 64 + n: unique, stable, in audit order


@dataclass(frozen=True)
class MetricEvent:
    audit_id: int
    number: int  # within the audit
    metric: str
    instance_id: int
    type: str
    time: int
    status: dict[str, int] | None = None  # update_status events: the measured minutes


@dataclass
class Replay:
    """What a ticket's history adds up to."""

    ticket_id: int
    created_at: int | None = None
    updated_at: int | None = None
    requester_id: int | None = None
    status: str | None = None
    assignee_id: int | None = None
    group_stations: int = 0
    assignee_stations: int = 0
    reopens: int = 0
    replies: int = 0
    first_reply_at: int | None = None
    requester_updated_at: int | None = None
    assignee_updated_at: int | None = None
    status_updated_at: int | None = None
    initially_assigned_at: int | None = None
    assigned_at: int | None = None
    first_solved_at: int | None = None
    solved_at: int | None = None
    latest_comment_added_at: int | None = None
    seconds_in: dict[str, int] = field(default_factory=dict)  # status → seconds spent in it
    events: list[MetricEvent] = field(default_factory=list)
    _since: int = 0
    _metrics: dict[str, tuple[int, str]] = field(default_factory=dict)  # metric → (instance, state)


def replay(ticket_id: int, audits: Sequence[tuple[int, dict[str, Any]]]) -> Replay:
    """Replay ``audits`` — (epoch, stored audit) in (time, id) order — of one ticket."""
    state = Replay(ticket_id)
    for at, audit in audits:
        _apply(state, at, audit)
    return state


def _apply(state: Replay, at: int, audit: dict[str, Any]) -> None:
    first = state.created_at is None
    if first:
        state.created_at, state._since = at, at
    state.updated_at = at
    emit = _Emitter(state, audit["id"], at)
    if first:
        for metric in METRICS:
            emit.event(metric, 0, "measure")
    events = audit.get("events", [])
    for event in events:  # fields first: a Create audit names the requester after the description comment
        if event.get("type") != "Comment" and event.get("field_name"):
            _field(state, emit, at, event["field_name"], event.get("value"))
    for event in events:
        if event.get("type") == "Comment":
            _comment(state, emit, at, event, description=first)
    author = audit.get("author_id")
    if author is not None and author == state.requester_id:
        state.requester_updated_at = at
    if author is not None and author == state.assignee_id:
        state.assignee_updated_at = at
    _follow_status(state, emit)


def _comment(state: Replay, emit: _Emitter, at: int, event: dict[str, Any], *, description: bool) -> None:
    state.latest_comment_added_at = at
    if description or not event.get("public", True) or event.get("author_id") in (None, state.requester_id):
        return
    state.replies += 1
    if state.first_reply_at is None:
        state.first_reply_at = at
        minutes = (at - (state.created_at or at)) // 60
        emit.transition("reply_time", "fulfilled", status={"calendar": minutes, "business": minutes})
        emit.transition("pausable_update_time", "active")
        emit.transition("periodic_update_time", "active")


def _field(state: Replay, emit: _Emitter, at: int, name: str, value: Any) -> None:
    if name == "requester_id":
        state.requester_id = _int(value)
    elif name == "assignee_id":
        state.assignee_id = _int(value)
        if state.assignee_id is not None:
            state.assignee_stations += 1
            state.assigned_at = at
            state.initially_assigned_at = state.initially_assigned_at or at
    elif name == "group_id" and value is not None:
        state.group_stations += 1
        emit.transition("group_ownership_time", "active")
    elif name == "status" and isinstance(value, str) and value != state.status:
        _status(state, at, value)


def _status(state: Replay, at: int, new: str) -> None:
    if state.status is not None:
        state.seconds_in[state.status] = state.seconds_in.get(state.status, 0) + at - state._since
    if state.status in _SOLVED and new not in _SOLVED:
        state.reopens += 1
        state.solved_at = None
    if new == "solved" or (new == "closed" and state.status != "solved"):
        state.solved_at = at
        state.first_solved_at = state.first_solved_at or at
    state.status, state._since, state.status_updated_at = new, at, at


def _follow_status(state: Replay, emit: _Emitter) -> None:
    """Each status-driven metric takes the state the ticket's status asks for."""
    if state.status is None:
        return
    if state.first_reply_at is None and state.status not in _SOLVED:
        emit.transition("reply_time", "active")
    for metric, runs_in in _RUNS_IN.items():
        if state.status in runs_in:
            emit.transition(metric, "active")
        elif state.status in _SOLVED:
            status = None
            if metric == "resolution_time":
                minutes = ((state.solved_at or emit.at) - (state.created_at or emit.at)) // 60
                status = {"calendar": minutes, "business": minutes}
            emit.transition(metric, "fulfilled", status=status)
        else:
            emit.transition(metric, "paused")


class _Emitter:
    """Metric events of one audit, numbered in the order they happen."""

    _TYPES = {"active": "activate", "paused": "pause", "fulfilled": "fulfill"}

    def __init__(self, state: Replay, audit_id: int, at: int) -> None:
        self.state, self.audit_id, self.at = state, audit_id, at
        self.count = 0

    def event(self, metric: str, instance: int, kind: str, status: dict[str, int] | None = None) -> None:
        self.state.events.append(MetricEvent(self.audit_id, self.count, metric, instance, kind, self.at, status))
        self.count += 1

    def transition(self, metric: str, target: str, status: dict[str, int] | None = None) -> None:
        instance, current = self.state._metrics.get(metric, (0, "none"))
        if current == target or (target != "active" and current in ("none", "fulfilled")):
            return
        if target == "active" and current in ("none", "fulfilled"):
            instance += 1
        self.state._metrics[metric] = (instance, target)
        self.event(metric, instance, self._TYPES[target])
        if status is not None:
            self.event(metric, instance, "update_status", status)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and ascii_digits(value) else None


# -- rendering ------------------------------------------------------------------------------------------
def _minutes(seconds: int | None) -> dict[str, int | None]:
    value = None if seconds is None else seconds // 60
    return {"calendar": value, "business": value}


def metric_set(base_url: str, ticket: dict[str, Any], state: Replay) -> dict[str, Any]:
    """The ticket's metric set (`ticket_metric`), keys in the recorded order. ``ticket`` is its rendered JSON;
    a ticket without audits falls back on its own timestamps."""
    created = state.created_at if state.created_at is not None else parse_time(ticket["created_at"])
    updated = state.updated_at if state.updated_at is not None else parse_time(ticket["updated_at"])
    solved = state.solved_at if state.status in _SOLVED else None
    waits = state.seconds_in
    return {
        "url": f"{base_url}/api/v2/ticket_metrics/{ticket['id']}.json", "id": ticket["id"],
        "ticket_id": ticket["id"], "created_at": format_time(created), "updated_at": format_time(updated),
        "group_stations": state.group_stations, "assignee_stations": state.assignee_stations,
        "reopens": state.reopens, "replies": state.replies,
        "assignee_updated_at": format_time(state.assignee_updated_at),
        "requester_updated_at": format_time(state.requester_updated_at),
        "status_updated_at": format_time(state.status_updated_at or created),
        "initially_assigned_at": format_time(state.initially_assigned_at),
        "assigned_at": format_time(state.assigned_at), "solved_at": format_time(solved),
        "latest_comment_added_at": format_time(state.latest_comment_added_at),
        "reply_time_in_minutes": _minutes(None if state.first_reply_at is None else state.first_reply_at - created),
        "first_resolution_time_in_minutes": _minutes(
            None if state.first_solved_at is None else state.first_solved_at - created),
        "full_resolution_time_in_minutes": _minutes(None if solved is None else solved - created),
        "agent_wait_time_in_minutes": _minutes(None if solved is None else waits.get("pending", 0)),
        "requester_wait_time_in_minutes": _minutes(
            None if solved is None else sum(waits.get(s, 0) for s in ("new", "open", "hold"))),
        "on_hold_time_in_minutes": _minutes(waits.get("hold", 0)),
        "custom_status_updated_at": format_time(state.status_updated_at or created),
    }


def metric_events(state: Replay) -> Iterator[MetricEvent]:
    return iter(state.events)


def metric_event_json(ticket_id: int, event: MetricEvent) -> dict[str, Any]:
    """One `ticket_metric_events[]` item, keys in the recorded order."""
    item: dict[str, Any] = {"id": event.audit_id * _EVENTS_PER_AUDIT + event.number, "ticket_id": ticket_id,
                            "metric": event.metric, "instance_id": event.instance_id, "type": event.type,
                            "time": format_time(event.time), "deleted": False}
    if event.status is not None:
        item["status"] = event.status
    return item
