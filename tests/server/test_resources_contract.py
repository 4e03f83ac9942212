"""Contract tests of the declared resources against real Zendesk responses (``tests/recordings/more``).

For each recording the server answers the same request on a seeded account, and the two bodies must have the
same shape: every key of every object (nested ones and every list element included), the same JSON types, and
``null`` only where Zendesk sends ``null`` (a key sent as null must be present, never missing). Recordings from
2023 on must match exactly (no key more, no key less); Zendesk's 2015 staging responses and hand-edited fixtures
predate keys Zendesk has added since, so there ours must hold at least theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reference import load_reference
from zendesk_export.testing import ZendeskServer

EXACT, AT_LEAST = "exact", "at least"
# Keys Zendesk sent in 2015 and sends no more (absent from every recording since 2023).
DROPPED_SINCE_2015 = {"chat_only"}
# A user's attributes that Zendesk's own document (UserObject) declares nullable, null for a user who never logged
# in, has no photo, or holds no custom role; a recording of one user cannot show both forms.
NULLABLE = {"photo", "last_login_at", "ticket_restriction", "role_type", "custom_role_id", "default_group_id",
            "two_factor_auth_enabled",
            "next_page", "previous_page"}  # null on a last page (recorded), a string before it
# A condition's `value` is a string for some fields (`type` is "incident") and an integer for ids (recorded both).
SCALAR_OF_ANY_TYPE = {"value"}
_SCALARS = {"string", "integer", "number", "boolean"}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def json_type(value: Any) -> str:
    return _JSON_TYPES[type(value)]


def shape_errors(ours: Any, recorded: Any, mode: str, where: str = "$") -> list[str]:
    """Where ``ours`` departs from the shape of ``recorded`` (empty when it does not)."""
    if recorded is None:
        return []
    if ours is None:
        nullable = where.rsplit(".", 1)[-1] in NULLABLE
        return [] if nullable else [f"{where}: null where Zendesk sends {json_type(recorded)}"]
    types = {json_type(ours), json_type(recorded)}
    polymorphic = where.rsplit(".", 1)[-1] in SCALAR_OF_ANY_TYPE and types <= _SCALARS
    if len(types) > 1 and types != {"integer", "number"} and not polymorphic:
        return [f"{where}: {json_type(ours)} where Zendesk sends {json_type(recorded)}"]
    if isinstance(recorded, dict):
        return _object_errors(ours, recorded, mode, where)
    if isinstance(recorded, list) and recorded:
        return [e for i, item in enumerate(ours) for e in _element_errors(item, recorded, mode, f"{where}[{i}]")]
    return []


def _object_errors(ours: dict[str, Any], recorded: dict[str, Any], mode: str, where: str) -> list[str]:
    errors = [f"{where}: missing key {key!r}" for key in recorded
              if key not in ours and not (mode == AT_LEAST and key in DROPPED_SINCE_2015)]
    if mode == EXACT:
        errors += [f"{where}: key {key!r} that Zendesk does not send" for key in ours if key not in recorded]
    return errors + [e for key in recorded if key in ours for e in shape_errors(ours[key], recorded[key], mode,
                                                                                 f"{where}.{key}")]


def _element_errors(item: Any, recorded: list[Any], mode: str, where: str) -> list[str]:
    """A list element must have the shape of some element of the recorded list."""
    attempts = [shape_errors(item, candidate, mode, where) for candidate in recorded]
    return [] if any(not errors for errors in attempts) else min(attempts, key=len)


def assert_same_shape(ours: Any, recorded: Any, mode: str) -> None:
    errors = shape_errors(ours, recorded, mode)
    assert not errors, "\n".join(errors[:20])


def seeded_session(server: ZendeskServer, tickets: int, random_seed: int) -> Iterator[ZendeskServer]:
    """The session's server reset as ``zendesk_server`` resets it (data, clock, faults, rate limits, journal),
    then seeded: one account shared by a module's read-only tests."""
    admin = server.admin
    for clean in (admin.reset, admin.reset_clock, admin.clear_faults, admin.reset_rate_limit, admin.clear_requests):
        clean()
    admin.seed(tickets=tickets, random_seed=random_seed)
    yield server
    admin.reset()


@pytest.fixture(scope="module")
def seeded(zendesk_server_session: ZendeskServer) -> Iterator[ZendeskServer]:
    """One seeded account for the read-only contracts (writes below use the per-test ``zendesk_server``)."""
    yield from seeded_session(zendesk_server_session, 200, 11)


def get(server: ZendeskServer, url: str, **params: Any) -> Any:
    with server.client() as client:
        response = client.get(url, params=params) if params else client.get(url)  # a link keeps its own query
    assert response.status_code == 200, response.text
    return response.json()


# (recording, path, query, mode): the request the recording answered, made on our server.
LISTS = [
    ("brands.offset.rbclient-2015.json", "/api/v2/brands.json", {}, AT_LEAST),
    ("custom_roles.offset.rbclient-2015.json", "/api/v2/custom_roles.json", {}, AT_LEAST),
    ("group_memberships.cursor-size100.zenpy.json", "/api/v2/group_memberships.json", {"page[size]": 100}, EXACT),
    ("group_memberships.cursor-size1.zenpy.json", "/api/v2/group_memberships.json", {"page[size]": 1}, EXACT),
    ("group_memberships.offset.zenpy.json", "/api/v2/group_memberships.json", {}, EXACT),
    ("groups.cursor-size1.zenpy.json", "/api/v2/groups.json", {"page[size]": 1}, EXACT),
    ("groups.cursor-size100-hasmore-false.zenpy.json", "/api/v2/groups.json", {"page[size]": 100}, EXACT),
    ("groups.offset.zenpy.json", "/api/v2/groups.json", {}, EXACT),
    ("macros.cursor-size100.zenpy.json", "/api/v2/macros.json", {"page[size]": 100}, EXACT),
    ("macros.offset.zenpy.json", "/api/v2/macros.json", {}, EXACT),
    ("organization_fields.offset.rbclient-2015.json", "/api/v2/organization_fields.json", {}, AT_LEAST),
    ("organization_memberships.offset.rbclient-2015.json", "/api/v2/organization_memberships.json", {}, AT_LEAST),
    ("organizations.cursor-size1.zenpy.json", "/api/v2/organizations.json", {"page[size]": 1}, EXACT),
    ("organizations.cursor-size100.zenpy.json", "/api/v2/organizations.json", {"page[size]": 100}, EXACT),
    ("organizations.cursor-size1-page1.nodezendesk.json", "/api/v2/organizations.json", {"page[size]": 1}, EXACT),
    ("organizations.cursor-size100-hasmore-false.nodezendesk.json", "/api/v2/organizations.json",
     {"page[size]": 100}, EXACT),
    ("organizations.offset.zenpy.json", "/api/v2/organizations.json", {}, EXACT),
    ("sla_policies.gozendesk.json", "/api/v2/slas/policies.json", {}, AT_LEAST),
    ("tags.cursor-size1.zenpy.json", "/api/v2/tags.json", {"page[size]": 1}, EXACT),
    ("tags.cursor-size100.zenpy.json", "/api/v2/tags.json", {"page[size]": 100}, EXACT),
    ("tags.offset.zenpy.json", "/api/v2/tags.json", {}, EXACT),
    ("ticket_fields.offset.rbclient-2015.json", "/api/v2/ticket_fields.json", {}, AT_LEAST),
    ("ticket_forms.offset.rbclient-2015.json", "/api/v2/ticket_forms.json", {}, AT_LEAST),
    ("ticket_forms.gozendesk.json", "/api/v2/ticket_forms.json", {}, AT_LEAST),
    ("triggers.cursor-size100.zenpy.json", "/api/v2/triggers.json", {"page[size]": 100}, EXACT),
    ("triggers.offset.zenpy.json", "/api/v2/triggers.json", {}, EXACT),
    ("user_fields.offset.grouparoo-2021.json", "/api/v2/user_fields.json", {}, EXACT),
    ("user_fields.offset.rbclient-2015.json", "/api/v2/user_fields.json", {}, AT_LEAST),
    ("users.cursor-size100.zenpy.json", "/api/v2/users.json", {"page[size]": 100}, EXACT),
    ("users.cursor-size1.zenpy.json", "/api/v2/users.json", {"page[size]": 1}, EXACT),
    ("users.offset.zenpy.json", "/api/v2/users.json", {}, EXACT),
    ("users.offset-page2-perpage1.rbclient-2015.json", "/api/v2/users.json", {"page": 2, "per_page": 1}, AT_LEAST),
    ("views.cursor-size100.zenpy.json", "/api/v2/views.json", {"page[size]": 100}, EXACT),
    ("views.offset.zenpy.json", "/api/v2/views.json", {}, EXACT),
]


@pytest.mark.parametrize(("recording", "path", "query", "mode"), LISTS, ids=[row[0] for row in LISTS])
def test_list_has_the_recorded_shape(seeded: ZendeskServer, recording: str, path: str, query: dict[str, Any],
                                     mode: str) -> None:
    recorded = load_reference(f"more/{recording}")
    ours = get(seeded, path, **query)
    assert list(ours)[: len(recorded)] == list(recorded) or mode == AT_LEAST
    assert_same_shape(ours, recorded, mode)


# Recordings of a second page: the first page's `links.next` followed.
NEXT_PAGES = [
    ("group_memberships.cursor-after.zenpy.json", "/api/v2/group_memberships.json"),
    ("groups.cursor-after-lastpage.zenpy.json", "/api/v2/groups.json"),
    ("users.cursor-after.zenpy.json", "/api/v2/users.json"),
]


@pytest.mark.parametrize(("recording", "path"), NEXT_PAGES, ids=[row[0] for row in NEXT_PAGES])
def test_next_cursor_page_has_the_recorded_shape(seeded: ZendeskServer, recording: str, path: str) -> None:
    first = get(seeded, path, **{"page[size]": 1})
    ours = get(seeded, first["links"]["next"])
    assert_same_shape(ours, load_reference(f"more/{recording}"), EXACT)


def test_past_the_last_page_is_the_recorded_empty_page(seeded: ZendeskServer) -> None:
    last = get(seeded, "/api/v2/organizations.json", **{"page[size]": 100})
    assert last["meta"]["has_more"] is False
    assert get(seeded, last["links"]["next"]) == load_reference(
        "more/organizations.cursor-after-past-end-empty.nodezendesk.json")


SHOWS = [
    ("brand.show.zenpy.json", "/api/v2/brands/1.json", EXACT),
    # 2023: the 2024 records hold seven permissions more, which we have too
    ("custom_role.show.zenpy.json", "/api/v2/custom_roles/1.json", AT_LEAST),
    ("organization_membership.show.rbclient-2015.json", "/api/v2/organization_memberships/1.json", AT_LEAST),
    ("sla_policy.show.gozendesk.json", "/api/v2/slas/policies/1.json", AT_LEAST),
    ("ticket_field.show.rbclient-2015.json", "/api/v2/ticket_fields/1.json", AT_LEAST),
    ("ticket_form.show.rbclient-2015.json", "/api/v2/ticket_forms/1.json", AT_LEAST),
]


@pytest.mark.parametrize(("recording", "path", "mode"), SHOWS, ids=[row[0] for row in SHOWS])
def test_show_has_the_recorded_shape(seeded: ZendeskServer, recording: str, path: str, mode: str) -> None:
    assert_same_shape(get(seeded, path), load_reference(f"more/{recording}"), mode)


AIRBYTE_RECORDS = [("brands", "/api/v2/brands.json"), ("sla_policies", "/api/v2/slas/policies.json"),
                   ("ticket_forms", "/api/v2/ticket_forms.json"),
                   ("organization_memberships", "/api/v2/organization_memberships.json"),
                   ("custom_roles", "/api/v2/custom_roles.json")]


@pytest.mark.parametrize(("kind", "path"), AIRBYTE_RECORDS, ids=[row[0] for row in AIRBYTE_RECORDS])
def test_objects_match_the_2024_records_a_connector_fetched(seeded: ZendeskServer, kind: str, path: str) -> None:
    recorded = load_reference("more/records.d3v-airbyte-2024.airbyte.json")[kind]
    for obj in get(seeded, path)[kind]:
        assert_same_shape([obj], recorded, EXACT)


def test_the_custom_status_field_matches_the_2024_record(seeded: ZendeskServer) -> None:
    recorded = load_reference("more/records.d3v-airbyte-2024.airbyte.json")["ticket_fields"]
    ours = [f for f in get(seeded, "/api/v2/ticket_fields.json")["ticket_fields"] if f["type"] == "custom_status"]
    assert len(ours) == 1
    assert_same_shape(ours, recorded, EXACT)


WRITES = [
    ("ticket_field.create-201.zenpy.json", "POST", "/api/v2/ticket_fields.json",
     {"ticket_field": {"type": "text", "title": "I AM A TEST", "description": "I AM A TEST"}}, 201),
    ("user_field.create-201.zenpy.json", "POST", "/api/v2/user_fields.json",
     {"user_field": {"type": "text", "key": "something", "title": "i am test", "description": "test"}}, 201),
    ("organization_field.create-201.zenpy.json", "POST", "/api/v2/organization_fields.json",
     {"organization_field": {"type": "text", "key": "something", "title": "i am test", "description": "test"}}, 201),
]


@pytest.mark.parametrize(("recording", "method", "path", "body", "status"), WRITES, ids=[row[0] for row in WRITES])
def test_create_answers_the_recorded_shape(zendesk_server: ZendeskServer, recording: str, method: str, path: str,
                                           body: dict[str, Any], status: int) -> None:
    with zendesk_server.client() as client:
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    ours = response.json()
    assert_same_shape(ours, load_reference(f"more/{recording}"), EXACT)
    (key,) = ours
    assert response.headers["location"].endswith(f"{path.removesuffix('.json')}/{ours[key]['id']}.json")


def test_update_answers_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        created = client.post("/api/v2/ticket_fields.json",
                              json={"ticket_field": {"type": "text", "title": "I AM A TEST"}}).json()["ticket_field"]
        response = client.put(f"/api/v2/ticket_fields/{created['id']}.json",
                              json={"ticket_field": {"title": "I AM A TEST, renamed"}})
    assert response.status_code == 200
    ours = response.json()
    assert_same_shape(ours, load_reference("more/ticket_field.update.zenpy.json"), EXACT)
    assert (ours["ticket_field"]["title"], ours["ticket_field"]["raw_title"]) == ("I AM A TEST, renamed",) * 2


@pytest.mark.parametrize(("recording", "query"), [
    ("tickets.cursor-page-size-101.400.estuary.json", {"page[size]": "101"}),
    ("tickets.cursor-malformed-after.400.estuary.json", {"page[after]": "garbage"}),
])
@pytest.mark.parametrize("path", ["/api/v2/brands", "/api/v2/macros.json", "/api/v2/users"])
def test_paging_errors_are_the_recorded_400s(zendesk_server: ZendeskServer, recording: str, query: dict[str, str],
                                             path: str) -> None:
    with zendesk_server.client() as client:
        response: httpx.Response = client.get(path, params=query)
    assert response.status_code == 400
    assert response.json() == load_reference(f"more/{recording}")
