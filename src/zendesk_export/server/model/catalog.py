"""The rules shared by every declared resource: what a new object holds, what a create must carry, what an update
may change; and the shape of each kind, taken from Zendesk's recorded objects.

``TEMPLATES`` holds, per kind, every attribute of an object (besides ``id``, ``url`` and the times) in the order a
real response lists them, with the value Zendesk gives a new object. A create is the template overlaid with the
known attributes of the payload (unknown ones are ignored, as Zendesk does); an update overlays the current
object. Objects are stored whole, ``url`` excepted (it depends on the host asked).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from typing import Any

from zendesk_export.server.errors import RecordInvalid
from zendesk_export.server.model.tickets import CUSTOM_STATUS_IDS
from zendesk_export.server.store import User
from zendesk_export.tickets import format_time

__all__ = ["TEMPLATES", "REQUIRED", "FIELD_TYPES", "new_object", "changed_object", "render_object",
           "schema_of"]

_FIELD = {"type": "text", "title": "", "raw_title": "", "description": "", "raw_description": "",
          "position": 9999, "active": True, "required": False, "collapsed_for_agents": False,
          "regexp_for_validation": None, "title_in_portal": "", "raw_title_in_portal": "",
          "visible_in_portal": False, "editable_in_portal": False, "required_in_portal": False, "tag": None}
_PERSON_FIELD = {"type": "text", "key": "", "title": "", "description": "", "raw_title": "", "raw_description": "",
                 "position": 9999, "active": True, "system": False, "regexp_for_validation": None}
_RULE = {"title": "", "active": True, "default": False, "position": 9999, "description": None, "actions": [],
         "conditions": {"all": [], "any": []}, "raw_title": ""}

# Keys a response lists after the times, in the recorded order (e.g. a ticket field's `removable`).
TEMPLATES: dict[str, dict[str, Any]] = {
    "brands": {"name": "", "brand_url": "", "subdomain": "", "host_mapping": None, "has_help_center": False,
               "help_center_state": "disabled", "active": True, "default": False, "is_deleted": False,
               "logo": None, "ticket_form_ids": [], "signature_template": "{{agent.signature}}"},
    "ticket_fields": {**_FIELD, "removable": True, "key": None, "agent_description": None},
    "ticket_forms": {"name": "", "raw_name": "", "display_name": None, "raw_display_name": None,
                     "end_user_visible": True, "position": 9999, "ticket_field_ids": [], "active": True,
                     "default": False, "in_all_brands": True, "restricted_brand_ids": [],
                     "end_user_conditions": [], "agent_conditions": []},
    "user_fields": dict(_PERSON_FIELD),
    "organization_fields": dict(_PERSON_FIELD),
    "group_memberships": {"user_id": None, "group_id": None, "default": False},
    "organization_memberships": {"user_id": None, "organization_id": None, "default": False,
                                 "organization_name": "", "view_tickets": True},
    "custom_roles": {"name": "", "description": "", "role_type": 0, "configuration": {}, "team_member_count": 0},
    "sla_policies": {"title": "", "description": "", "position": 9999, "filter": {"all": [], "any": []},
                     "policy_metrics": []},
    "macros": {"title": "", "active": True, "default": False, "position": 9999, "description": None,
               "actions": [], "restriction": None, "raw_title": ""},
    "triggers": {**_RULE, "description": "", "category_id": "1"},
    "automations": dict(_RULE),
    "views": {"title": "", "active": True, "default": False, "position": 9999, "description": None,
              "execution": {}, "conditions": {"all": [], "any": []}, "restriction": None, "raw_title": ""},
    "targets": {"title": "", "type": "url_target_v2", "active": True},
    "recipient_addresses": {"brand_id": 1, "name": "", "email": "", "default": False,
                            "forwarding_status": "unknown", "spf_status": "verified", "cname_status": "verified",
                            "domain_verification_status": "verified"},
    "sharing_agreements": {"name": "", "partner_name": None, "status": "pending", "type": "outbound"},
    "dynamic_content_items": {"name": "", "placeholder": "", "default_locale_id": 1, "outdated": False,
                              "variants": []},
    "activities": {"title": "", "verb": "tickets.assignment", "user_id": None, "actor_id": None,
                   "object": {}, "target": {}},
    "suspended_tickets": {"subject": "", "content": "", "cause": "Detected as spam", "cause_id": 0,
                          "message_id": None, "recipient": None, "ticket_id": None, "brand_id": None,
                          "author": {}, "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
                          "attachments": [], "error_messages": None},
    "skips": {"ticket_id": None, "user_id": None, "reason": "", "ticket": None},
    "tags": {"name": "", "count": 0},
    "phone_numbers": {"number": "", "display_number": "", "name": "", "country_code": "US", "toll_free": False,
                      "capabilities": {"sms": False, "mms": False, "voice": True}, "nickname": None},
    "requests": {"subject": "", "description": "", "status": "new", "priority": None, "type": None,
                 "requester_id": None, "organization_id": None, "assignee_id": None, "group_id": None,
                 "collaborator_ids": [], "email_cc_ids": [], "via": {"channel": "api", "source": {}},
                 "is_public": True, "due_at": None, "can_be_solved_by_me": False, "solved": False,
                 "ticket_form_id": 1, "recipient": None, "custom_fields": [],
                 "custom_status_id": None},
}
# What a create must carry (Zendesk answers 422 RecordInvalid without it).
REQUIRED: dict[str, tuple[str, ...]] = {
    "brands": ("name", "subdomain"), "ticket_fields": ("type", "title"), "ticket_forms": ("name",),
    "user_fields": ("type", "key", "title"), "organization_fields": ("type", "key", "title"),
    "group_memberships": ("user_id", "group_id"), "organization_memberships": ("user_id", "organization_id"),
    "custom_roles": ("name",), "sla_policies": ("title",), "macros": ("title", "actions"),
    "triggers": ("title", "actions", "conditions"), "automations": ("title", "actions", "conditions"),
    "views": ("title", "conditions"), "targets": ("title", "type"), "recipient_addresses": ("email",),
    "sharing_agreements": ("name",), "dynamic_content_items": ("name",), "requests": ("subject",),
}
FIELD_TYPES = ("text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "partialcreditcard",
               "tagger", "multiselect", "lookup")
_PERSON_FIELD_TYPES = ("text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "dropdown",
                       "lookup", "multiselect")
_TYPES = {"ticket_fields": FIELD_TYPES, "user_fields": _PERSON_FIELD_TYPES,
          "organization_fields": _PERSON_FIELD_TYPES}
_READ_ONLY = ("id", "url", "created_at", "updated_at")
_MIRRORED = {"raw_title": "title", "raw_description": "description", "raw_name": "name",
             "title_in_portal": "title", "raw_title_in_portal": "title", "raw_display_name": "display_name"}


def new_object(kind: str, object_id: int, payload: Mapping[str, Any], now: int,
               actor: User | None = None) -> dict[str, Any]:
    """A new object of ``kind`` from a create's payload: validated, defaults filled, raw_ copies kept in step;
    ``actor`` is who creates it (a request's requester)."""
    _require(kind, payload)
    obj: dict[str, Any] = {"id": object_id, **TEMPLATES[kind]}
    obj.update(_known(kind, payload))
    _mirror(obj, payload)
    _check_type(kind, obj)
    if kind == "requests" and actor is not None:
        _requested(obj, actor, payload)
    return _stamped(obj, now, now)


def _requested(request: dict[str, Any], actor: User, payload: Mapping[str, Any]) -> None:
    """A request is a ticket as its requester sees it: the caller asks, with their organization."""
    asked = request["status"]
    status = asked if isinstance(asked, str) and asked in CUSTOM_STATUS_IDS else "new"
    request.update(requester_id=actor.id, organization_id=actor.organization_id, status=status,
                   custom_status_id=CUSTOM_STATUS_IDS[status])
    if not request["description"] and isinstance(comment := payload.get("comment"), dict):
        request["description"] = str(comment.get("body", ""))


def changed_object(kind: str, current: Mapping[str, Any], payload: Mapping[str, Any], now: int) -> dict[str, Any]:
    """``current`` with an update's known attributes applied (``id`` and times are not the client's)."""
    created = calendar.timegm(time.strptime(current["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    obj = {k: v for k, v in current.items() if k not in ("created_at", "updated_at")}
    obj.update(_known(kind, payload))
    _mirror(obj, payload)
    _check_type(kind, obj)
    return _stamped(obj, created, now)


def render_object(kind: str, obj: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    """A stored object as a response shows it: ``url`` first when the kind has one."""
    return {"url": url, **obj} if url is not None else dict(obj)


def _known(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's attributes an object of ``kind`` has, each of the JSON type its template gives (422
    otherwise); a null sent for an attribute that is never null means "not given"."""
    allowed = TEMPLATES[kind]
    extra = {"custom_field_options", "system_field_options", "relationship_target_type", "relationship_filter",
             "sub_type_id", "custom_statuses"}
    known = {k: v for k, v in payload.items() if (k in allowed or k in extra) and k not in _READ_ONLY
             and not (v is None and allowed.get(k) is not None)}
    wrong = [k for k, v in known.items() if allowed.get(k) is not None and _json_type(v) != _json_type(allowed[k])]
    if wrong:
        raise RecordInvalid({k: [{"description": f"{k.replace('_', ' ').capitalize()}: is invalid",
                                  "error": "InvalidValue"}] for k in wrong})
    return known


def _json_type(value: Any) -> str:
    """The JSON type of a value as the published schema names it (a bool is no integer; an integer too large
    for 64 bits arrives as a float, and is no integer either)."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "null")


def _mirror(obj: dict[str, Any], payload: Mapping[str, Any]) -> None:
    for raw, source in _MIRRORED.items():
        if raw in obj and raw not in payload and source in payload:
            obj[raw] = payload[source]


def _require(kind: str, payload: Mapping[str, Any]) -> None:
    missing = [name for name in REQUIRED.get(kind, ()) if payload.get(name) in (None, "", [])]
    if missing:
        raise RecordInvalid({name: [{"description": f"{name.replace('_', ' ').capitalize()}: cannot be blank",
                                     "error": "BlankValue"}] for name in missing})


def _check_type(kind: str, obj: Mapping[str, Any]) -> None:
    allowed = _TYPES.get(kind)
    if allowed is not None and obj.get("type") not in allowed and not obj.get("system_type"):
        raise RecordInvalid({"type": [{"description": f"Type: is not valid: {str(obj.get('type'))[:50]}",
                                       "error": "InvalidValue"}]})


def _stamped(obj: dict[str, Any], created: int, updated: int) -> dict[str, Any]:
    obj.update(created_at=format_time(created), updated_at=format_time(updated), created_at_epoch=created,
               updated_at_epoch=updated)
    return obj


# -- schema -----------------------------------------------------------------------------------------------
def schema_of(kind: str, has_url: bool, stored: bool = True) -> dict[str, Any]:
    """The JSON schema of an object of ``kind``, read off its template (``null`` defaults are nullable); a
    ``stored`` object also has an id and its times."""
    if not stored:
        return {"type": "object", "properties": {k: _value_schema(v) for k, v in TEMPLATES[kind].items()}}
    properties: dict[str, Any] = {"id": {"type": "integer", "readOnly": True}}
    if has_url:
        properties["url"] = {"type": "string", "readOnly": True}
    for name, value in TEMPLATES[kind].items():
        properties[name] = _value_schema(value)
    properties["created_at"] = {"type": "string", "format": "date-time", "readOnly": True}
    properties["updated_at"] = {"type": "string", "format": "date-time", "readOnly": True}
    return {"type": "object", "properties": properties, "required": list(REQUIRED.get(kind, ()))}


def _value_schema(value: Any) -> dict[str, Any]:
    return {"nullable": True} if value is None else {"type": _json_type(value)}
