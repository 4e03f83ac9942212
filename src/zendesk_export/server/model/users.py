"""Users, organizations and groups: the minimum to be real (reference §1.5, §6.4).

Users live in the store's one ``users`` table (the same rows authentication reads); organizations and groups in
their own. Each record keeps its columns plus a ``data`` object of the remaining attributes; rendering fills
every key of the recorded real objects, in their order, with the defaults Zendesk gives a new record of that role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zendesk_export.server.errors import Forbidden, RecordInvalid, RecordNotFound
from zendesk_export.server.model.ids import is_id
from zendesk_export.server.store import DuplicateRecord, Store, User, Writer
from zendesk_export.tickets import format_time

__all__ = ["ROLES", "RENDERERS", "SINGULAR", "render_user", "render_organization", "render_group",
           "check_user_write", "create_record", "update_record"]

ROLES = ("end-user", "agent", "admin")


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


RENDERERS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "users": render_user, "organizations": render_organization, "groups": render_group,
}
SINGULAR = {"users": "user", "organizations": "organization", "groups": "group"}


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
        if fields.get(name) is not None and not is_id(fields[name]):
            raise _invalid(name, "is invalid")
    if isinstance(fields.get("tags"), str):
        fields["tags"] = fields["tags"].split()
    return fields


def _looks_like_email(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and "." in value.split("@")[1] and " " not in value


# -- who may write what ------------------------------------------------------------------------------------
# Keys that set a login secret. The Users API stores none of them, but an agent sending one is refused rather
# than told "done" (Zendesk keeps passwords and tokens to admins and to their own endpoints).
_CREDENTIAL_KEYS = ("password", "previous_password", "api_token", "token", "oauth_token")


def check_user_write(actor: User, payload: dict[str, Any], record: dict[str, Any] | None) -> None:
    """Zendesk's limits on agents writing users (admins may do everything): an agent creates end users only,
    updates end users and itself only, and never changes a role, an email or a credential — so an agent cannot
    promote itself, demote the admin or take over the admin's login. ``record``: the user updated (None when
    creating). Raises ``Forbidden`` (403)."""
    if actor.is_admin:
        return
    if any(key in payload for key in _CREDENTIAL_KEYS):
        raise Forbidden()
    if record is None:
        if payload.get("role", "end-user") != "end-user":
            raise Forbidden()
        return
    if record["id"] != actor.id and record["role"] != "end-user":
        raise Forbidden()
    if "role" in payload and payload["role"] != record["role"]:
        raise Forbidden()
    if "email" in payload and _email_key(payload["email"]) != _email_key(None if record.get("no_email")
                                                                       else record["email"]):
        raise Forbidden()


def _email_key(email: Any) -> Any:
    return email.lower() if isinstance(email, str) and email else None


# -- writes ------------------------------------------------------------------------------------------
def create_record(store: Store, account_id: int, now: int, table: str, payload: dict[str, Any], *,
                  actor: User | None = None) -> dict[str, Any]:
    """A new user, organization or group from a payload's editable attributes; ``actor``, when given, must be
    allowed to create it (``check_user_write``)."""
    if actor is not None and table == "users":
        check_user_write(actor, payload, None)
    fields = _clean(table, payload, creating=True)
    with store.write(account_id) as writer:
        record = {**_new_defaults(table), **fields, "id": writer.next_id(table), "created_at": now,
                  "updated_at": now}
        _normalise_email(record)
        _save(writer, table, record)
    return record


def update_record(store: Store, account_id: int, now: int, table: str, record_id: int, payload: dict[str, Any],
                  *, actor: User | None = None) -> dict[str, Any]:
    """The record with the payload's editable attributes changed; ``updated_at`` moves only on a change.
    ``actor``, when given, must be allowed to make the change (``check_user_write``): 404, then 403, then 422."""
    with store.write(account_id) as writer:
        record = writer.get_record(table, record_id)
        if record is None:
            raise RecordNotFound()
        if actor is not None and table == "users":
            check_user_write(actor, payload, record)
        fields = _clean(table, payload, creating=False)
        changed = {k: v for k, v in fields.items() if record.get(k) != v}
        record.update(changed)
        if changed:
            record["updated_at"] = max(now, record["updated_at"])
        _normalise_email(record)
        _save(writer, table, record)
    return record


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
                       f"{SINGULAR[table]}", "DuplicateValue") from None
