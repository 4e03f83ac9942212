"""Ticket rules: create, update, soft-delete — with Zendesk's validation, audits and timestamp rules.

Every write sets ``generated_timestamp`` to ``max(now, previous)``; only a write that produces an event (a
changed field or a comment) moves ``updated_at``; deleting is a system write (status ``deleted``, timestamp
bumped, ``updated_at`` kept), and the ticket stays in the incremental export (reference §3.1, §3.6, §8).
Everything here takes plain values (store, account, clock time, caller); the HTTP side lives in ``api.tickets``.
"""

from __future__ import annotations

from typing import Any

from zendesk_export.server.errors import RecordInvalid, RecordNotFound
from zendesk_export.server.model.audits import API_VIA, Audit, Origin
from zendesk_export.server.model.custom_fields import Field, account_fields, retag, typed_custom_fields
from zendesk_export.server.model.ids import ascii_digits, is_id
from zendesk_export.server.store import Store, Writer
from zendesk_export.tickets import PRIORITIES, STATUSES, TICKET_FIELDS, TYPES, format_time, parse_time

__all__ = ["validate", "CUSTOM_STATUS_IDS", "DEFAULT_BRAND_ID", "DEFAULT_TICKET_FORM_ID", "BULK_LIMIT",
           "CREATE_EVENT_FIELDS", "OPTIONAL_CREATE_FIELDS", "create_one", "update_one", "delete_one"]

# One system custom status per status category, as a new Zendesk account has.
CUSTOM_STATUS_IDS = {status: number for number, status in enumerate(STATUSES, start=1)}
DEFAULT_BRAND_ID = 1
DEFAULT_TICKET_FORM_ID = 1
BULK_LIMIT = 100  # create_many, update_many, destroy_many, show_many: at most 100 ids or tickets
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
        if isinstance(value, str) and ascii_digits(value) and len(value) <= 19:
            value = int(value)
        if not is_id(value):  # beyond Zendesk's range no record can exist (nor be compared in SQL)
            raise ValueError
        return value
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
    if not isinstance(value, list) or not all(is_id(v) for v in value):
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
        if not isinstance(item, dict) or not is_id(item.get("id")):
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


# -- writes ------------------------------------------------------------------------------------------
def create_one(store: Store, account_id: int, now: int, caller_id: int, origin: Origin, payload: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create one ticket from a payload (single create and each item of create_many) → (ticket, audit)."""
    fields = validate(payload)
    comment = _comment(payload, creating=True)
    if comment is None:
        raise RecordInvalid({"base": [_blank_description()]})
    defined = _typed(store, account_id, fields)
    with store.write(account_id) as writer:
        ticket = _new_ticket(store, account_id, writer, fields, comment, caller_id, now)
        ticket["tags"] = retag(ticket["tags"], defined, {}, _values(ticket["custom_fields"]))
        audit = Audit(writer, origin, ticket["id"], caller_id, now)
        audit.comment(comment)
        for name in CREATE_EVENT_FIELDS + tuple(n for n in OPTIONAL_CREATE_FIELDS if ticket.get(n)):
            audit.field(name, ticket[name])
        writer.put_ticket(ticket)
        saved = audit.save()
    return ticket, saved


def _new_ticket(store: Store, account_id: int, writer: Writer, fields: dict[str, Any], comment: dict[str, Any],
                caller_id: int, now: int) -> dict[str, Any]:
    requester_id = fields.get("requester_id", caller_id)
    requester = store.user(account_id, requester_id)
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


def update_one(store: Store, account_id: int, now: int, caller_id: int, origin: Origin, ticket_id: int,
               payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Update one ticket (single update and each item of update_many) → (ticket, audit)."""
    fields = validate(payload)
    comment = _comment(payload, creating=False)
    defined = _typed(store, account_id, fields)
    with store.write(account_id) as writer:
        ticket = _live_ticket(writer, ticket_id)
        if ticket["status"] == "closed":
            raise RecordInvalid({"status": [{"description": "Status: closed prevents ticket update",
                                             "error": "ClosedPreventsUpdate"}]})
        audit = Audit(writer, origin, ticket["id"], caller_id, now)
        if comment:
            audit.comment(comment)
        _apply_changes(ticket, fields, payload, audit, defined)
        ticket["generated_timestamp"] = max(now, ticket["generated_timestamp"])
        if audit.events:
            ticket["updated_at"] = now
        writer.put_ticket(ticket)
        saved = audit.save()
    return ticket, saved


def _typed(store: Store, account_id: int, fields: dict[str, Any]) -> dict[int, Field]:
    """Custom field values typed by the account's ticket fields (422 for a value its field cannot hold), in
    place; returns those fields, by id."""
    if not fields.get("custom_fields"):
        return {}
    defined = account_fields(store, account_id, fields["custom_fields"])
    fields["custom_fields"] = typed_custom_fields(defined, fields["custom_fields"])
    return defined


def _values(custom_fields: list[dict[str, Any]]) -> dict[int, Any]:
    return {f["id"]: f.get("value") for f in custom_fields}


def _apply_changes(ticket: dict[str, Any], fields: dict[str, Any], payload: dict[str, Any], audit: Audit,
                   defined: dict[int, Field]) -> None:
    if "subject" in fields and "raw_subject" not in fields:
        ticket["raw_subject"] = fields["subject"]  # follows the subject silently: Zendesk audits `subject` only
    if "status" in fields:
        fields["custom_status_id"] = CUSTOM_STATUS_IDS[fields["status"]]
    tags = fields.get("tags", ticket["tags"])
    if "custom_fields" in fields:
        merged = {f["id"]: f for f in ticket["custom_fields"]} | {f["id"]: f for f in fields["custom_fields"]}
        tags = retag(tags, defined, _values(ticket["custom_fields"]), _values(fields["custom_fields"]))
        fields["custom_fields"] = list(merged.values())
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
    ticket = writer.get_ticket(ticket_id) if is_id(ticket_id) else None
    if ticket is None or ticket["status"] == "deleted":
        raise RecordNotFound()
    return ticket


def delete_one(store: Store, account_id: int, now: int, ticket_id: int) -> None:
    """Soft-delete one ticket (single delete and each id of destroy_many)."""
    with store.write(account_id) as writer:
        ticket = _live_ticket(writer, ticket_id)
        ticket.update(status="deleted", deleted_at=now, generated_timestamp=max(now, ticket["generated_timestamp"]))
        writer.put_ticket(ticket)
