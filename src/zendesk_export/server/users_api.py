"""Users, organizations and groups: the minimum to be real (reference §1.5, §6.4), and their incremental exports.

Users live in the store's one ``users`` table (the same rows authentication reads); organizations and groups in
their own. Each record keeps its columns plus a ``data`` object of the remaining attributes; rendering fills
every key of the recorded real objects, in their order, with the defaults Zendesk gives a new record of that role.
Exports are keyed by ``updated_at`` (users: time and cursor; organizations: time), as Zendesk's are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.responses import Response

from zendesk_export.server.app import Call, json_response
from zendesk_export.server.errors import ParameterMissing, RecordInvalid, RecordNotFound
from zendesk_export.server.feeds import Feed, Rendered, cursor_export, time_export
from zendesk_export.server.store import DuplicateRecord, ExportRow, Writer
from zendesk_export.tickets import format_time

__all__ = ["ROUTES", "USERS", "ORGANIZATIONS", "render_user", "render_organization", "render_group"]

ROLES = ("end-user", "agent", "admin")
_PAGE_MAX = 100


# -- rendering ------------------------------------------------------------------------------------
def _role_defaults(role: str) -> dict[str, Any]:
    staff = role != "end-user"
    return {
        "role_type": 4 if role == "admin" else None, "moderator": staff,
        "ticket_restriction": None if staff else "requested", "restricted_agent": not staff, "report_csv": staff,
    }


def render_user(base_url: str, user: dict[str, Any]) -> dict[str, Any]:
    """A user object with the keys of a real 2024 user, in order (reference §6.4)."""
    get, role = user.get, user["role"]
    defaults = _role_defaults(role)
    return {
        "id": user["id"], "url": f"{base_url}/api/v2/users/{user['id']}.json", "name": user["name"],
        "email": None if get("no_email") else user["email"], "created_at": format_time(user["created_at"]),
        "updated_at": format_time(user["updated_at"]), "time_zone": get("time_zone", "America/New_York"),
        "iana_time_zone": get("time_zone", "America/New_York"), "phone": get("phone"),
        "shared_phone_number": None, "photo": None, "locale_id": 1, "locale": get("locale", "en-US"),
        "organization_id": get("organization_id"), "role": role, "verified": get("verified", role != "end-user"),
        "external_id": get("external_id"), "tags": get("tags", []), "alias": get("alias"),
        "active": get("active", True), "shared": False, "shared_agent": False, "last_login_at": None,
        "two_factor_auth_enabled": None, "signature": get("signature"), "details": get("details"),
        "notes": get("notes"), "role_type": defaults["role_type"], "custom_role_id": None,
        "moderator": defaults["moderator"], "ticket_restriction": defaults["ticket_restriction"],
        "only_private_comments": False, "restricted_agent": defaults["restricted_agent"],
        "suspended": get("suspended", False), "default_group_id": get("default_group_id"),
        "report_csv": defaults["report_csv"], "user_fields": get("user_fields", {}),
    }


def render_organization(base_url: str, org: dict[str, Any]) -> dict[str, Any]:
    """An organization with the keys of the recorded export page (incl. `deleted_at`)."""
    get = org.get
    return {
        "url": f"{base_url}/api/v2/organizations/{org['id']}.json", "id": org["id"], "name": org["name"],
        "shared_tickets": get("shared_tickets", False), "shared_comments": get("shared_comments", False),
        "external_id": get("external_id"), "created_at": format_time(org["created_at"]),
        "updated_at": format_time(org["updated_at"]), "domain_names": get("domain_names", []),
        "details": get("details"), "notes": get("notes"), "group_id": get("group_id"), "tags": get("tags", []),
        "organization_fields": get("organization_fields", {}), "deleted_at": format_time(get("deleted_at")),
    }


def render_group(base_url: str, group: dict[str, Any]) -> dict[str, Any]:
    get = group.get
    return {
        "url": f"{base_url}/api/v2/groups/{group['id']}.json", "id": group["id"],
        "is_public": get("is_public", True), "name": group["name"], "description": get("description", ""),
        "default": get("default", False), "deleted": group.get("deleted_at") is not None,
        "created_at": format_time(group["created_at"]), "updated_at": format_time(group["updated_at"]),
    }


_RENDERERS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "users": render_user, "organizations": render_organization, "groups": render_group,
}
_SINGULAR = {"users": "user", "organizations": "organization", "groups": "group"}


def _feed_render(table: str) -> Callable[[Call, Sequence[ExportRow]], Rendered]:
    def render(call: Call, rows: Sequence[ExportRow]) -> Rendered:
        renderer = _RENDERERS[table]
        return Rendered([orjson.dumps(renderer(call.base_url, orjson.loads(r.body))) for r in rows], [])

    return render


USERS = Feed("users", "users", "/api/v2/incremental/users", _feed_render("users"))
ORGANIZATIONS = Feed("organizations", "organizations", "/api/v2/incremental/organizations",
                     _feed_render("organizations"))


# -- validation -------------------------------------------------------------------------------------
def _invalid(field: str, message: str, code: str = "InvalidValue") -> RecordInvalid:
    return RecordInvalid({field: [{"description": f"{field.replace('_', ' ').capitalize()}: {message}",
                                   "error": code}]})


_EDITABLE = {
    "users": ("name", "email", "role", "organization_id", "external_id", "details", "notes", "phone", "time_zone",
              "locale", "alias", "signature", "tags", "verified", "active", "suspended", "default_group_id",
              "user_fields"),
    "organizations": ("name", "external_id", "details", "notes", "domain_names", "tags", "group_id",
                      "shared_tickets", "shared_comments", "organization_fields"),
    "groups": ("name", "description", "is_public", "default"),
}


def _clean(table: str, payload: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The editable attributes of a payload; unknown keys ignored as Zendesk does, wrong types → 422."""
    fields = {k: v for k, v in payload.items() if k in _EDITABLE[table]}
    if (creating or "name" in fields) and not (isinstance(fields.get("name"), str) and fields["name"].strip()):
        raise _invalid("name", "cannot be blank", "BlankValue")
    if "role" in fields and fields["role"] not in ROLES:
        raise _invalid("role", "is invalid")
    if "email" in fields and fields["email"] is not None and not _looks_like_email(fields["email"]):
        raise _invalid("email", f"{fields['email']} is not properly formatted", "InvalidFormat")
    for name in ("organization_id", "group_id", "default_group_id"):
        if fields.get(name) is not None and (isinstance(fields[name], bool) or not isinstance(fields[name], int)):
            raise _invalid(name, "is invalid")
    if isinstance(fields.get("tags"), str):
        fields["tags"] = fields["tags"].split()
    return fields


def _looks_like_email(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and "." in value.split("@")[1] and " " not in value


# -- handlers ----------------------------------------------------------------------------------------
def _payload(call: Call, table: str) -> dict[str, Any]:
    body = call.json().get(_SINGULAR[table])
    if not isinstance(body, dict):
        raise ParameterMissing(_SINGULAR[table])
    return body


def _one(call: Call, table: str, record: dict[str, Any], status: int = 200) -> Response:
    return json_response({_SINGULAR[table]: _RENDERERS[table](call.base_url, record)}, status)


def _show(table: str) -> Callable[[Call], Response]:
    def show(call: Call) -> Response:
        call.caller()
        found = call.ctx.store.records_by_id(call.account.id, table, [call.path_int("record_id")])
        if not found:
            raise RecordNotFound()
        return _one(call, table, found[0])

    show.__name__ = f"show_{table}"
    return show


def _list(table: str) -> Callable[[Call], Response]:
    """Offset pagination, as Zendesk's list endpoints have: `page`, `per_page` ≤ 100, `next_page`, `count`."""

    def list_records(call: Call) -> Response:
        call.caller()
        per_page = _int_param(call, "per_page", _PAGE_MAX, 1, _PAGE_MAX)
        page = _int_param(call, "page", 1, 1, 10**6)
        records, total = call.ctx.store.list_records(call.account.id, table, (page - 1) * per_page, per_page)
        path = f"{call.base_url}/api/v2/{table}.json?page={{}}&per_page={per_page}"
        body = {table: [_RENDERERS[table](call.base_url, r) for r in records],
                "next_page": path.format(page + 1) if page * per_page < total else None,
                "previous_page": path.format(page - 1) if page > 1 else None, "count": total}
        return json_response(body)

    list_records.__name__ = f"list_{table}"
    return list_records


def _int_param(call: Call, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(call.params.get(name, default))))
    except ValueError:
        return default


def _create(table: str) -> Callable[[Call], Response]:
    def create(call: Call) -> Response:
        call.caller(admin=table != "users")
        fields = _clean(table, _payload(call, table), creating=True)
        now = int(call.ctx.clock.now())
        with call.ctx.store.write(call.account.id) as writer:
            record = {**_new_defaults(table), **fields, "id": writer.next_id(table), "created_at": now,
                      "updated_at": now}
            _normalise_email(record)
            _save(writer, table, record)
        return _one(call, table, record, 201)

    create.__name__ = f"create_{table}"
    return create


def _new_defaults(table: str) -> dict[str, Any]:
    return {"role": "end-user", "organization_id": None} if table == "users" else {}


def _normalise_email(record: dict[str, Any]) -> None:
    """The users table needs a unique email; a user without one gets a private placeholder rendered as null."""
    if "role" not in record:
        return
    if record.get("email"):
        record["email"] = record["email"].lower()
        record.pop("no_email", None)
    else:
        record.update(email=f"user-{record['id']}@no-email.invalid", no_email=True)


def _save(writer: Writer, table: str, record: dict[str, Any]) -> None:
    try:
        writer.put_record(table, record)
    except DuplicateRecord:
        field = "email" if table == "users" else "name"
        raise _invalid(field, f"{record.get(field)} is already being used by another "
                       f"{_SINGULAR[table]}", "DuplicateValue") from None


def _update(table: str) -> Callable[[Call], Response]:
    def update(call: Call) -> Response:
        call.caller(admin=table != "users")
        fields = _clean(table, _payload(call, table), creating=False)
        now = int(call.ctx.clock.now())
        with call.ctx.store.write(call.account.id) as writer:
            record = writer.get_record(table, call.path_int("record_id"))
            if record is None:
                raise RecordNotFound()
            changed = {k: v for k, v in fields.items() if record.get(k) != v}
            record.update(changed)
            if changed:
                record["updated_at"] = max(now, record["updated_at"])
            _normalise_email(record)
            _save(writer, table, record)
        return _one(call, table, record)

    update.__name__ = f"update_{table}"
    return update


def me(call: Call) -> Response:
    """`GET /api/v2/users/me` — the caller (zenpy and most SDKs check credentials with it)."""
    caller = call.caller()
    found = call.ctx.store.records_by_id(call.account.id, "users", [caller.id])
    return _one(call, "users", found[0])


def _export(feed: Feed, mode: str) -> Callable[[Call], Response]:
    def handler(call: Call) -> Response:
        if mode == "cursor":
            return cursor_export(call, feed)
        return time_export(call, feed, sample=mode == "sample")

    handler.__name__ = f"incremental_{feed.key}_{mode}"
    return handler


def _record_routes(table: str) -> list[tuple[str, str, Callable[[Call], Response]]]:
    return [
        ("GET", f"/api/v2/{table}", _list(table)),
        ("POST", f"/api/v2/{table}", _create(table)),
        ("GET", f"/api/v2/{table}/{{record_id:int}}", _show(table)),
        ("PUT", f"/api/v2/{table}/{{record_id:int}}", _update(table)),
    ]


ROUTES: list[tuple[str, str, Callable[[Call], Response]]] = [
    ("GET", "/api/v2/users/me", me),
    *_record_routes("users"),
    *_record_routes("organizations"),
    *_record_routes("groups"),
    ("GET", "/api/v2/incremental/users", _export(USERS, "time")),
    ("GET", "/api/v2/incremental/users/cursor", _export(USERS, "cursor")),
    ("GET", "/api/v2/incremental/users/sample", _export(USERS, "sample")),
    ("GET", "/api/v2/incremental/organizations", _export(ORGANIZATIONS, "time")),
    ("GET", "/api/v2/incremental/organizations/sample", _export(ORGANIZATIONS, "sample")),
]
