"""Tickets API: create, show, update, delete — with Zendesk's validation, audits and timestamp rules.

Every write sets ``generated_timestamp`` to ``max(now, previous)``; only a write that produces an event (a
changed field or a comment) moves ``updated_at``; deleting is a system write (status ``deleted``, timestamp
bumped, ``updated_at`` kept), and the ticket stays in the incremental export (reference §3.1, §3.6, §8).
"""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.responses import Response

from zendesk_export.server.app import Call, raw_json
from zendesk_export.server.errors import (
    InvalidParameter,
    ParameterMissing,
    RecordInvalid,
    RecordNotFound,
    TooManyValues,
)
from zendesk_export.server.store import Writer
from zendesk_export.tickets import (
    PRIORITIES,
    STATUSES,
    TICKET_FIELDS,
    TYPES,
    format_time,
    parse_time,
    render_body,
    ticket_json,
)

__all__ = ["ROUTES", "validate", "CUSTOM_STATUS_IDS", "API_VIA", "BULK_LIMIT", "CREATE_EVENT_FIELDS",
           "OPTIONAL_CREATE_FIELDS", "comment_event", "field_event", "create_one", "update_one", "delete_one",
           "parse_ids", "show_many"]

API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
# One system custom status per status category, as a new Zendesk account has.
CUSTOM_STATUS_IDS = {status: number for number, status in enumerate(STATUSES, start=1)}
DEFAULT_BRAND_ID = 1
DEFAULT_TICKET_FORM_ID = 1
# The fields a Create audit lists (recorded order), then the optional ones when set.
CREATE_EVENT_FIELDS = ("subject", "requester_id", "priority", "type", "status", "organization_id", "brand_id",
                       "ticket_form_id", "custom_status_id")
OPTIONAL_CREATE_FIELDS = ("assignee_id", "group_id", "tags", "due_at")
_ENUMS = {"status": STATUSES, "priority": PRIORITIES, "type": TYPES}
_WRITABLE = {f.name: f for f in TICKET_FIELDS if f.writable}


# -- validation ----------------------------------------------------------------------------------------
def _invalid(name: str, message: str = "is invalid", code: str = "InvalidValue") -> dict[str, Any]:
    label = name.replace("_id", "").replace("_", " ").capitalize()
    return {"description": f"{label}: {message}", "error": code}


def _clean(name: str, value: Any) -> Any:
    """One writable field's value in stored form; raises ValueError if it has the wrong type."""
    kind = _WRITABLE[name].kind
    if value is None:
        if name in ("status", "requester_id"):
            raise ValueError
        return [] if kind == "json" else None
    if name in _ENUMS:
        if value not in _ENUMS[name]:
            raise ValueError
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise ValueError
        return int(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError
        return value
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError
        return format_time(parse_time(value))
    if name == "tags":
        return _tags(value)
    if name == "custom_fields":
        return _custom_fields(value)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError
    return value


def _tags(value: Any) -> list[str]:
    words = value.split() if isinstance(value, str) else value
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError
    return list(dict.fromkeys(w.strip().lower().replace(" ", "_") for w in words if w.strip()))


def _custom_fields(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError
    cleaned = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            raise ValueError
        cleaned.append({"id": item["id"], "value": item.get("value")})
    return cleaned


def validate(payload: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a ticket payload, cleaned; unknown keys are ignored as Zendesk does."""
    cleaned, details = {}, {}
    for name, value in payload.items():
        if name not in _WRITABLE:
            continue
        try:
            cleaned[name] = _clean(name, value)
        except ValueError:
            details[name] = [_invalid(name)]
    if details:
        raise RecordInvalid(details)
    return cleaned


def _comment(payload: dict[str, Any], *, creating: bool) -> dict[str, Any] | None:
    comment = payload.get("comment")
    if isinstance(comment, str):
        comment = {"body": comment}
    if comment is None and creating and isinstance(payload.get("description"), str):
        comment = {"body": payload["description"]}
    if comment is None:
        return None
    text = comment.get("body") or comment.get("html_body") if isinstance(comment, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise RecordInvalid({"base": [_blank_description()]})
    return {"body": text, "public": comment.get("public", True) is not False}


def _blank_description() -> dict[str, Any]:
    return {"description": "Description: cannot be blank", "error": "BlankValue",
            "ticket_field_id": 1, "ticket_field_type": "FieldDescription"}


# -- audits ------------------------------------------------------------------------------------------
def _event_value(value: Any) -> Any:
    """Audit values are strings, even for ids (`"6130907993114"`), or null, or a list (tags)."""
    if value is None or isinstance(value, list | str):
        return value
    return str(value)


def comment_event(event_id: int | None, author_id: int, body: str, public: bool, audit_id: int | None
                  ) -> dict[str, Any]:
    """A `Comment` audit event, as recorded (ids may be None where the store numbers them, as for seeding)."""
    return {
        "id": event_id, "type": "Comment", "author_id": author_id, "body": body,
        "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{html.escape(body, quote=False)}</p></div>',
        "plain_body": body, "public": public, "attachments": [], "audit_id": audit_id,
    }


def field_event(event_id: int | None, name: str, value: Any, *previous: Any) -> dict[str, Any]:
    """A `Create` event, or, given a previous value (which may be None), a `Change` event."""
    event = {"id": event_id, "type": "Change" if previous else "Create", "value": _event_value(value),
             "field_name": name}
    if previous:
        event["previous_value"] = _event_value(previous[0])
    return event


class _Audit:
    """Collects the events of one write; becomes the audit Zendesk returns and the ticket events export."""

    def __init__(self, writer: Writer, call: Call, ticket_id: int, author_id: int, now: int) -> None:
        self.writer = writer
        self.id = writer.next_id("audits")
        self.call, self.ticket_id, self.author_id, self.now = call, ticket_id, author_id, now
        self.events: list[dict[str, Any]] = []

    def comment(self, comment: dict[str, Any]) -> None:
        event_id = self.writer.next_id("events")
        self.events.append(comment_event(event_id, self.author_id, comment["body"], comment["public"], self.id))

    def field(self, name: str, value: Any, *previous: Any) -> None:
        """A Create event, or with a previous value a Change event."""
        self.events.append(field_event(self.writer.next_id("events"), name, value, *previous))

    def as_json(self) -> dict[str, Any]:
        request = self.call.request
        return {
            "id": self.id, "ticket_id": self.ticket_id, "created_at": format_time(self.now),
            "author_id": self.author_id,
            "metadata": {"system": {"client": request.headers.get("user-agent"),
                                    "ip_address": request.client.host if request.client else None,
                                    "location": None, "latitude": None, "longitude": None}, "custom": {}},
            "events": self.events, "via": API_VIA,
        }

    def save(self) -> dict[str, Any]:
        audit = self.as_json()
        if self.events:
            self.writer.add_audit({**audit, "created_at_epoch": self.now})
        return audit


# -- handlers ----------------------------------------------------------------------------------------
def _payload(call: Call) -> dict[str, Any]:
    ticket = call.json().get("ticket")
    if not isinstance(ticket, dict):
        raise ParameterMissing("ticket")
    return ticket


def _ticket_response(call: Call, ticket: dict[str, Any], audit: dict[str, Any] | None, status: int = 200,
                     headers: dict[str, str] | None = None) -> Response:
    body = ticket_json(call.base_url, ticket["id"], render_body(ticket))
    parts = [b'{"ticket":', body]
    if audit is not None:
        parts += [b',"audit":', orjson.dumps(audit)]
    return raw_json(b"".join(parts) + b"}", status, headers)


def create_ticket(call: Call) -> Response:
    """`POST /api/v2/tickets` → 201, Location, `{ticket, audit}`."""
    caller = call.caller()
    ticket, saved = create_one(call, caller.id, _payload(call))
    location = {"Location": f"{call.base_url}/api/v2/tickets/{ticket['id']}.json"}
    return _ticket_response(call, ticket, saved, 201, location)


def create_one(call: Call, caller_id: int, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create one ticket from a payload (single create and each item of create_many) → (ticket, audit)."""
    fields = validate(payload)
    comment = _comment(payload, creating=True)
    if comment is None:
        raise RecordInvalid({"base": [_blank_description()]})
    now = int(call.ctx.clock.now())
    with call.ctx.store.write(call.account.id) as writer:
        ticket = _new_ticket(call, writer, fields, comment, caller_id, now)
        audit = _Audit(writer, call, ticket["id"], caller_id, now)
        audit.comment(comment)
        for name in CREATE_EVENT_FIELDS + tuple(n for n in OPTIONAL_CREATE_FIELDS if ticket.get(n)):
            audit.field(name, ticket[name])
        writer.put_ticket(ticket)
        saved = audit.save()
    return ticket, saved


def _new_ticket(call: Call, writer: Writer, fields: dict[str, Any], comment: dict[str, Any], caller_id: int,
                now: int) -> dict[str, Any]:
    requester_id = fields.get("requester_id", caller_id)
    requester = call.ctx.store.user(call.account.id, requester_id)
    if requester is None:
        raise RecordInvalid({"requester": [_invalid("requester_id")]})
    status = fields.get("status") or ("open" if fields.get("assignee_id") else "new")
    ticket = {f.name: f.default for f in TICKET_FIELDS}
    ticket.update(
        id=writer.next_id("tickets"), via=API_VIA, created_at=now, updated_at=now, description=comment["body"],
        requester_id=requester_id, submitter_id=caller_id, organization_id=requester.organization_id,
        is_public=comment["public"], brand_id=DEFAULT_BRAND_ID, ticket_form_id=DEFAULT_TICKET_FORM_ID,
        generated_timestamp=now, deleted_at=None,
    )
    ticket.update(fields)
    ticket["raw_subject"] = fields.get("raw_subject", ticket["subject"])
    ticket["status"] = status
    ticket["custom_status_id"] = CUSTOM_STATUS_IDS[status]
    return ticket


def show_ticket(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}`."""
    call.caller()
    ticket = call.ctx.store.get_ticket(call.account.id, call.path_int("ticket_id"))
    if ticket is None or ticket["status"] == "deleted":
        raise RecordNotFound()
    return _ticket_response(call, ticket, None)


def update_ticket(call: Call) -> Response:
    """`PUT /api/v2/tickets/{id}` → `{ticket, audit}`; a `comment` adds a comment."""
    caller = call.caller()
    ticket, saved = update_one(call, caller.id, call.path_int("ticket_id"), _payload(call))
    return _ticket_response(call, ticket, saved)


def update_one(call: Call, caller_id: int, ticket_id: int, payload: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Update one ticket (single update and each item of update_many) → (ticket, audit)."""
    fields = validate(payload)
    comment = _comment(payload, creating=False)
    now = int(call.ctx.clock.now())
    with call.ctx.store.write(call.account.id) as writer:
        ticket = _live_ticket(writer, ticket_id)
        if ticket["status"] == "closed":
            raise RecordInvalid({"status": [{"description": "Status: closed prevents ticket update",
                                             "error": "ClosedPreventsUpdate"}]})
        audit = _Audit(writer, call, ticket["id"], caller_id, now)
        if comment:
            audit.comment(comment)
        _apply_changes(ticket, fields, payload, audit)
        ticket["generated_timestamp"] = max(now, ticket["generated_timestamp"])
        if audit.events:
            ticket["updated_at"] = now
        writer.put_ticket(ticket)
        saved = audit.save()
    return ticket, saved


def _apply_changes(ticket: dict[str, Any], fields: dict[str, Any], payload: dict[str, Any], audit: _Audit) -> None:
    if "subject" in fields and "raw_subject" not in fields:
        ticket["raw_subject"] = fields["subject"]  # follows the subject silently: Zendesk audits `subject` only
    if "status" in fields:
        fields["custom_status_id"] = CUSTOM_STATUS_IDS[fields["status"]]
    if "custom_fields" in fields:
        merged = {f["id"]: f for f in ticket["custom_fields"]} | {f["id"]: f for f in fields["custom_fields"]}
        fields["custom_fields"] = list(merged.values())
    tags = fields.get("tags", ticket["tags"])
    for key, op in (("additional_tags", "add"), ("remove_tags", "remove")):
        if key in payload:
            try:
                extra = _tags(payload[key])
            except ValueError:
                raise RecordInvalid({key: [_invalid(key)]}) from None
            tags = tags + [t for t in extra if t not in tags] if op == "add" else [t for t in tags if t not in extra]
    if tags != ticket["tags"]:
        fields["tags"] = tags
    for name, value in fields.items():
        if ticket.get(name) != value:
            audit.field(name, value, ticket.get(name))
            ticket[name] = value


def _live_ticket(writer: Writer, ticket_id: int) -> dict[str, Any]:
    ticket = writer.get_ticket(ticket_id)
    if ticket is None or ticket["status"] == "deleted":
        raise RecordNotFound()
    return ticket


def delete_ticket(call: Call) -> Response:
    """`DELETE /api/v2/tickets/{id}` → 204. A soft delete: the export shows the ticket as `deleted`."""
    call.caller()
    delete_one(call, call.path_int("ticket_id"))
    return Response(status_code=204)


def delete_one(call: Call, ticket_id: int) -> None:
    """Soft-delete one ticket (single delete and each id of destroy_many)."""
    now = int(call.ctx.clock.now())
    with call.ctx.store.write(call.account.id) as writer:
        ticket = _live_ticket(writer, ticket_id)
        ticket.update(status="deleted", deleted_at=now, generated_timestamp=max(now, ticket["generated_timestamp"]))
        writer.put_ticket(ticket)


BULK_LIMIT = 100  # create_many, update_many, destroy_many, show_many: at most 100 ids or tickets


def parse_ids(call: Call) -> list[int]:
    """`?ids=1,2,3` (required, ≤ 100, integers) → ids in the order given, without repeats."""
    raw = call.params.get("ids", "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise ParameterMissing("ids")
    if not all(p.isdigit() for p in parts):
        raise InvalidParameter(f"ids must be a comma-separated list of integers, got {raw[:100]!r}")
    ids = list(dict.fromkeys(int(p) for p in parts))
    if len(ids) > BULK_LIMIT:
        raise TooManyValues(BULK_LIMIT)
    return ids


def show_many(call: Call) -> Response:
    """`GET /api/v2/tickets/show_many?ids=…` — the live tickets among ids, in the order asked (unknown and
    deleted ids are left out), with the offset-pagination keys of a list."""
    call.caller()
    ids = parse_ids(call)
    rows = {r.id: r for r in call.ctx.store.tickets_by_id(call.account.id, ids)}
    found = [ticket_json(call.base_url, i, rows[i].body) for i in ids if i in rows]
    body = (b'{"tickets":[' + b",".join(found) + b'],"next_page":null,"previous_page":null,"count":'
            + str(len(found)).encode() + b"}")
    return raw_json(body)


ROUTES = [
    ("GET", "/api/v2/tickets/show_many", show_many),
    ("POST", "/api/v2/tickets", create_ticket),
    ("GET", "/api/v2/tickets/{ticket_id:int}", show_ticket),
    ("PUT", "/api/v2/tickets/{ticket_id:int}", update_ticket),
    ("DELETE", "/api/v2/tickets/{ticket_id:int}", delete_ticket),
]
