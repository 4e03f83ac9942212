"""Our responses conform to Zendesk's own OpenAPI document (``tests/recordings/oas``, the 2025-06 document as
Zendesk publishes it, converted from YAML to JSON): for every operation of every declared resource, the body our
server answers validates against the response schema the document gives that operation.

The document has known errors; ``PATCHES`` corrects them, each with the reason (a real recording or an object of
Zendesk's own examples contradicting it). Nothing else is relaxed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from tests.reference import load_reference, reference_file
from tests.server.test_resources_contract import seeded_session
from zendesk_export.server.resources import RESOURCES, Resource
from zendesk_export.server.resources.operations import OPERATIONS
from zendesk_export.testing import ZendeskServer

NULLABLE = {"nullable": True}


@dataclass(frozen=True)
class Patch:
    """One correction of the document: ``schema``'s ``prop`` gets ``change``, because the real response in
    ``recording`` (under ``key``) shows a value the document refuses."""

    schema: str
    prop: str
    change: dict[str, Any]
    recording: str
    key: str


PATCHES = [
    # The document forgets `nullable` where real responses hold null:
    *(Patch("UserForAdmin", p, NULLABLE, "users.offset.zenpy.json", "users")
      for p in ("alias", "default_group_id", "details", "last_login_at", "notes", "signature")),
    *(Patch("UserForEndUser", p, NULLABLE, "users.offset.zenpy.json", "users")
      for p in ("organization_id", "phone", "photo", "shared_phone_number")),
    *(Patch("BrandObject", p, NULLABLE, "brand.show.zenpy.json", "brand") for p in ("host_mapping", "logo")),
    Patch("TicketFieldObject", "agent_description", NULLABLE, "ticket_field.create-201.zenpy.json", "ticket_field"),
    *(Patch("ViewObject", p, NULLABLE, "views.cursor-size100.zenpy.json", "views") for p in ("description",
                                                                                              "restriction")),
    *(Patch("TicketFormObject", p, NULLABLE, "ticket_form.show.rbclient-2015.json", "ticket_form")
      for p in ("display_name", "raw_display_name")),
    # A request is its ticket as the requester sees it: these attributes are null on real tickets.
    *(Patch("RequestObject", p, NULLABLE, "tickets.cursor-size100.zenpy.json", "tickets")
      for p in ("assignee_id", "due_at", "group_id", "priority", "recipient", "type", "organization_id")),
]
# A condition's value may be an integer (an SLA policy filtering on organization_id, recorded in 2024), where
# the document allows a string or a list only.
VALUE_PATCH = ("SLAPolicyFilterConditionObject", "value", "records.d3v-airbyte-2024.airbyte.json")


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(reference_file("oas/zendesk-support-oas.2025-06.json").read_text())
    schemas = loaded["components"]["schemas"]
    for patch in PATCHES:
        schemas[patch.schema]["properties"][patch.prop].update(patch.change)
    schema, prop, _ = VALUE_PATCH
    schemas[schema]["properties"][prop]["oneOf"].append({"type": "integer"})
    return loaded


@pytest.mark.parametrize("patch", PATCHES, ids=[f"{p.schema}.{p.prop}" for p in PATCHES])
def test_every_patch_is_what_zendesk_really_sends(patch: Patch) -> None:
    """A patch is only kept while a real response shows the value the document refuses."""
    objects = load_reference(f"more/{patch.recording}")[patch.key]
    assert any(o.get(patch.prop, "absent") is None for o in (objects if isinstance(objects, list) else [objects]))


def test_the_condition_value_patch_is_what_zendesk_really_sends() -> None:
    policies = load_reference(f"more/{VALUE_PATCH[2]}")["sla_policies"]
    assert any(isinstance(c["value"], int) for p in policies for c in p["filter"]["all"])


def json_schema(schema: Any, seen: tuple[str, ...] = ()) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: references resolved, `nullable` as a null type."""
    if isinstance(schema, list):
        return [json_schema(s, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:  # a recursive schema: accept what lies below
            return {}
        resolved = json_schema(document()["components"]["schemas"][name], (*seen, name))
        return {"anyOf": [resolved, {"type": "null"}]} if schema.get("nullable") else resolved
    converted = {k: json_schema(v, seen) for k, v in schema.items() if k not in ("nullable", "example", "examples")}
    if schema.get("nullable"):
        converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


# Paths Zendesk serves that its document lists only in another form: the same response schema.
ALIASES = {"/api/v2/skips": "/api/v2/users/1/skips"}  # the account's skips, as a user's skips are listed


def operation(method: str, path: str) -> dict[str, Any]:
    """The document's operation for our path (``/api/v2/brands/1`` matches ``/api/v2/brands/{brand_id}``)."""
    path = ALIASES.get(path, path)
    for template, operations in document()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[a-z_]+\\\}", r"[^/]+", re.escape(template)), path) and method in operations:
            found: dict[str, Any] = operations[method]
            return found
    raise AssertionError(f"{method.upper()} {path} is not in Zendesk's document")


def response_schema(method: str, path: str, status: int) -> Any:
    responses = operation(method, path)["responses"]
    assert str(status) in responses, f"{method.upper()} {path}: the document has no {status} ({list(responses)})"
    response = responses[str(status)]
    if "$ref" in response:
        response = document()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return json_schema(response["content"]["application/json"]["schema"])


def assert_conforms(response: httpx.Response, method: str, path: str) -> None:
    schema = response_schema(method, path, response.status_code)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:10])


@pytest.fixture(scope="module")
def seeded(zendesk_server_session: ZendeskServer) -> Iterator[ZendeskServer]:
    yield from seeded_session(zendesk_server_session, 200, 5)


def call(server: ZendeskServer, method: str, path: str, **options: Any) -> httpx.Response:
    with server.client() as client:
        return client.request(method, path, **options)


def first_id(server: ZendeskServer, resource: Resource) -> int:
    body = call(server, "GET", resource.base).json()
    return int(body[resource.data_key][0]["id"])


# The Talk API (`/api/v2/channels/voice/…`) has a document of its own, not Zendesk's Support document.
SUPPORT = [r for r in RESOURCES if not r.base.startswith("/api/v2/channels/")]
READS = [(r, style) for r in SUPPORT if "list" in r.operations for style in r.paging]


@pytest.mark.parametrize(("resource", "style"), READS, ids=[f"{r.name}-{s}" for r, s in READS])
def test_list_conforms(seeded: ZendeskServer, resource: Resource, style: str) -> None:
    params = {"page[size]": 2} if style == "cursor" else {"per_page": 2}
    response = call(seeded, "GET", resource.base, params=params)
    assert response.status_code == 200
    assert_conforms(response, "get", resource.base)


SHOWN = [r for r in SUPPORT if "show" in r.operations]


@pytest.mark.parametrize("resource", SHOWN, ids=[r.name for r in SHOWN])
def test_show_conforms(seeded: ZendeskServer, resource: Resource) -> None:
    path = f"{resource.base}/{first_id(seeded, resource)}"
    response = call(seeded, "GET", path)
    assert response.status_code == 200
    assert_conforms(response, "get", path)


MANY = [r for r in SUPPORT if "show_many" in r.operations]


@pytest.mark.parametrize("resource", MANY, ids=[r.name for r in MANY])
def test_show_many_conforms(seeded: ZendeskServer, resource: Resource) -> None:
    response = call(seeded, "GET", f"{resource.base}/show_many", params={"ids": "1,2"})
    assert response.status_code == 200
    assert len(response.json()[resource.data_key]) == 2
    assert_conforms(response, "get", f"{resource.base}/show_many")


# A payload each create accepts, as a client would send it.
CREATES: dict[str, dict[str, Any]] = {
    "brands": {"name": "Brand new", "subdomain": "brand-new"},
    "ticket_fields": {"type": "integer", "title": "Age of the customer"},
    "ticket_forms": {"name": "Returns", "ticket_field_ids": [1, 2]},
    "user_fields": {"type": "checkbox", "key": "newsletter", "title": "Newsletter"},
    "organization_fields": {"type": "text", "key": "region", "title": "Region"},
    "group_memberships": {"user_id": 1, "group_id": 1},
    "organization_memberships": {"user_id": 1, "organization_id": 1},
    "sla_policies": {"title": "Urgent", "filter": {"all": [], "any": []}, "policy_metrics": []},
    "macros": {"title": "Escalate", "actions": [{"field": "priority", "value": "urgent"}]},
    "triggers": {"title": "Auto-reply", "actions": [{"field": "status", "value": "open"}],
                 "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}], "any": []}},
    "automations": {"title": "Close", "actions": [{"field": "status", "value": "closed"}],
                    "conditions": {"all": [{"field": "SOLVED", "operator": "greater_than", "value": "96"}],
                                   "any": []}},
    "views": {"title": "Urgent tickets", "conditions": {"all": [{"field": "priority", "operator": "is",
                                                                 "value": "urgent"}], "any": []}},
    "targets": {"title": "Hook", "type": "url_target_v2"},
    "recipient_addresses": {"email": "help@example.zendesk.com", "name": "Help"},
    "sharing_agreements": {"name": "Partner", "remote_subdomain": "partner"},
    "dynamic_content_items": {"name": "Closing", "default_locale_id": 1,
                              "variants": [{"locale_id": 1, "default": True, "content": "Bye"}]},
    "requests": {"subject": "Help", "comment": {"body": "Please help"}},
}
CREATED = [r for r in SUPPORT if "create" in r.operations]


@pytest.mark.parametrize("resource", CREATED, ids=[r.name for r in CREATED])
def test_create_update_destroy_conform(seeded: ZendeskServer, resource: Resource) -> None:
    created = call(seeded, "POST", resource.base, json={resource.singular: copy.deepcopy(CREATES[resource.name])})
    assert created.status_code == resource.created_status, created.text
    assert_conforms(created, "post", resource.base)
    one = f"{resource.base}/{created.json()[resource.singular]['id']}"
    if "update" in resource.operations:
        changed = {k: v for k, v in CREATES[resource.name].items() if k in ("title", "name")}
        updated = call(seeded, "PUT", one, json={resource.singular: {k: f"{v}!" for k, v in changed.items()}})
        assert updated.status_code == 200
        assert_conforms(updated, "put", one)
    if "destroy" in resource.operations:
        assert call(seeded, "DELETE", one).status_code == 204
        assert call(seeded, "GET", one).status_code == 404


HAND_WRITTEN = {op.document_path for op in OPERATIONS}


def test_openapi_document_lists_every_declared_operation(seeded: ZendeskServer) -> None:
    """Our own document, made from the resource table: every operation the server answers, and only those."""
    ours = call(seeded, "GET", "/api/v2/openapi.json").json()
    listed = {(method, path) for path, ops in ours["paths"].items() for method in ops}
    assert ("get", "/api/v2/brands") in listed and ("delete", "/api/v2/brands/{id}") in listed
    assert ("put", "/api/v2/group_memberships/{id}") not in listed
    for method, path in listed:
        concrete = path.replace("{id}", "1")
        if method != "get" or path in HAND_WRITTEN:  # held to the document by test_ticket_data_oas
            continue
        response = call(seeded, method.upper(), concrete, params={"ids": "1"} if "show_many" in path else None)
        assert response.status_code == 200, (path, response.text)
