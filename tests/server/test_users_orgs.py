"""Users, organizations, groups: CRUD essentials and their incremental exports (reference §1.5, §6.4)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.reference import load_reference
from zendesk_export.server.export.cursor import decode_cursor
from zendesk_export.testing import ZendeskServer

T0 = 1_700_000_000
USER_KEYS = ["id", "url", "name", "email", "created_at", "updated_at", "time_zone", "iana_time_zone", "phone",
             "shared_phone_number", "photo", "locale_id", "locale", "organization_id", "role", "verified",
             "external_id", "tags", "alias", "active", "shared", "shared_agent", "last_login_at",
             "two_factor_auth_enabled", "signature", "details", "notes", "role_type", "custom_role_id", "moderator",
             "ticket_restriction", "only_private_comments", "restricted_agent", "suspended", "default_group_id",
             "report_csv", "user_fields"]


def post(server: ZendeskServer, path: str, body: dict[str, Any]) -> httpx.Response:
    with server.client() as client:
        return client.post(path, json=body)


def get(server: ZendeskServer, path: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params)


def test_create_show_update_user(zendesk_server: ZendeskServer) -> None:
    created = post(zendesk_server, "/api/v2/users.json", {"user": {"name": "Ann", "email": "Ann@Example.org"}})
    assert created.status_code == 201
    user = created.json()["user"]
    assert list(user) == USER_KEYS
    assert (user["email"], user["role"], user["ticket_restriction"]) == ("ann@example.org", "end-user", "requested")
    with zendesk_server.client() as client:
        updated = client.put(f"/api/v2/users/{user['id']}.json", json={"user": {"name": "Ann B", "tags": "a b"}})
        shown = client.get(f"/api/v2/users/{user['id']}.json").json()["user"]
    assert updated.status_code == 200 and shown["name"] == "Ann B" and shown["tags"] == ["a", "b"]


def test_user_without_email_renders_null_email(zendesk_server: ZendeskServer) -> None:
    user = post(zendesk_server, "/api/v2/users.json", {"user": {"name": "No Mail"}}).json()["user"]
    assert user["email"] is None


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"user": {"email": "x@example.org"}}, "name", "BlankValue"),
    ({"user": {"name": "X", "email": "not-an-email"}}, "email", "InvalidFormat"),
    ({"user": {"name": "X", "role": "wizard"}}, "role", "InvalidValue"),
    ({"user": {"name": "X", "email": "admin@example.com"}}, "email", "DuplicateValue"),
])
def test_invalid_users_get_422_record_invalid(zendesk_server: ZendeskServer, body: dict[str, Any], field: str,
                                              code: str) -> None:
    response = post(zendesk_server, "/api/v2/users.json", body)
    assert response.status_code == 422
    assert response.json()["details"][field][0]["error"] == code


def test_created_users_can_request_tickets_and_auth_still_works(zendesk_server: ZendeskServer) -> None:
    user = post(zendesk_server, "/api/v2/users.json", {"user": {"name": "Req", "email": "req@example.org"}})
    ticket = post(zendesk_server, "/api/v2/tickets.json",
                  {"ticket": {"comment": "hi", "requester_id": user.json()["user"]["id"]}})
    assert ticket.status_code == 201
    assert get(zendesk_server, "/api/v2/users/me.json").json()["user"]["email"] == zendesk_server.email


def test_unknown_user_is_404(zendesk_server: ZendeskServer) -> None:
    assert get(zendesk_server, "/api/v2/users/424242.json").status_code == 404


def test_user_list_is_offset_paginated(zendesk_server: ZendeskServer) -> None:
    body = get(zendesk_server, "/api/v2/users.json", per_page=1).json()
    assert list(body) == ["users", "next_page", "previous_page", "count"]
    assert body["count"] == 2 and body["next_page"].endswith("page=2&per_page=1")


def test_organizations_and_groups_crud(zendesk_server: ZendeskServer) -> None:
    org = post(zendesk_server, "/api/v2/organizations.json", {"organization": {"name": "Acme"}})
    group = post(zendesk_server, "/api/v2/groups.json", {"group": {"name": "Support"}})
    assert org.status_code == group.status_code == 201
    assert org.json()["organization"]["deleted_at"] is None
    again = post(zendesk_server, "/api/v2/organizations.json", {"organization": {"name": "Acme"}})
    assert again.json()["details"]["name"][0]["error"] == "DuplicateValue"
    with zendesk_server.client() as client:
        client.put(f"/api/v2/groups/{group.json()['group']['id']}.json", json={"group": {"name": "Tier 2"}})
        assert client.get("/api/v2/groups.json").json()["groups"][0]["name"] == "Tier 2"


def test_agents_cannot_create_organizations(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + "/api/v2/organizations.json", json={"organization": {"name": "A"}},
                          auth=(f"{zendesk_server.agent_email}/token", zendesk_server.agent_token))
    assert response.status_code == 403


def users_at(server: ZendeskServer, names: list[str]) -> list[int]:
    server.admin.freeze(T0)
    ids = [post(server, "/api/v2/users.json", {"user": {"name": n}}).json()["user"]["id"] for n in names]
    server.admin.advance(61)
    return ids


def test_incremental_users_time_based_is_keyed_by_updated_at(zendesk_server: ZendeskServer) -> None:
    ids = users_at(zendesk_server, ["a", "b"])
    body = get(zendesk_server, "/api/v2/incremental/users.json", start_time=T0).json()
    assert list(body) == ["users", "next_page", "count", "end_of_stream", "end_time"]
    assert [u["id"] for u in body["users"]] == ids and body["end_time"] == T0


def test_incremental_users_cursor(zendesk_server: ZendeskServer) -> None:
    ids = users_at(zendesk_server, ["a", "b", "c"])
    first = get(zendesk_server, "/api/v2/incremental/users/cursor.json", start_time=T0, per_page=2).json()
    assert list(first) == ["users", "after_url", "before_url", "after_cursor", "before_cursor", "end_of_stream"]
    assert decode_cursor(first["after_cursor"]) == (T0, ids[1])
    with zendesk_server.client() as client:
        second = client.get(first["after_url"]).json()
    assert [u["id"] for u in second["users"]] == [ids[2]] and second["end_of_stream"] is True


def test_an_updated_user_comes_again(zendesk_server: ZendeskServer) -> None:
    ids = users_at(zendesk_server, ["a"])
    with zendesk_server.client() as client:
        client.put(f"/api/v2/users/{ids[0]}.json", json={"user": {"notes": "vip"}})
    zendesk_server.admin.advance(61)
    body = get(zendesk_server, "/api/v2/incremental/users.json", start_time=T0 + 1).json()
    assert [(u["id"], u["notes"]) for u in body["users"]] == [(ids[0], "vip")]


def test_incremental_organizations(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=10)
    body = get(zendesk_server, "/api/v2/incremental/organizations.json", start_time=0).json()
    assert list(body) == ["organizations", "next_page", "count", "end_of_stream", "end_time"]
    assert body["count"] == 20 and body["organizations"][0]["name"] == "Organization 1"


# -- who may change roles, emails and credentials ------------------------------------------------------------
ADMIN_ID, AGENT_ID = 1, 2  # the demo account's admin and agent


def as_agent(server: ZendeskServer, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.request(method, server.url + path, json=body,
                         auth=(f"{server.agent_email}/token", server.agent_token))


def new_end_user(server: ZendeskServer, name: str) -> int:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
    created = post(server, "/api/v2/users.json", {"user": {"name": name, "email": email}})
    return int(created.json()["user"]["id"])


@pytest.mark.parametrize(("target", "change"), [
    (AGENT_ID, {"role": "admin"}),              # promote itself, then export
    (ADMIN_ID, {"role": "agent"}),              # demote the admin
    (ADMIN_ID, {"email": "mine@example.org"}),  # take the admin's login
    (AGENT_ID, {"email": "other@example.org"}),
    (AGENT_ID, {"password": "new-password"}),
    (AGENT_ID, {"api_token": "new-token-0123456789"}),
    (ADMIN_ID, {"name": "Renamed Admin"}),      # agents update end users and themselves only
    ("end-user", {"role": "agent"}),
    ("end-user", {"email": "moved@example.org"}),
    ("end-user", {"password": "chosen-by-an-agent"}),
])
def test_agents_cannot_change_roles_emails_or_credentials(zendesk_server: ZendeskServer, target: int | str,
                                                          change: dict[str, Any]) -> None:
    user_id = new_end_user(zendesk_server, "Target") if target == "end-user" else target
    before = get(zendesk_server, f"/api/v2/users/{user_id}.json").json()["user"]
    response = as_agent(zendesk_server, "PUT", f"/api/v2/users/{user_id}.json", {"user": change})
    assert (response.status_code, response.json()) == (403, load_reference("fixtures/amp-labs/forbidden.json"))
    assert get(zendesk_server, f"/api/v2/users/{user_id}.json").json()["user"] == before


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_agents_cannot_create_agents_or_admins(zendesk_server: ZendeskServer, role: str) -> None:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    response = as_agent(zendesk_server, "POST", "/api/v2/users.json",
                        {"user": {"name": "New Staff", "email": email, "role": role}})
    assert response.status_code == 403
    assert get(zendesk_server, "/api/v2/users.json").json()["count"] == 2  # the demo admin and agent only


def test_agents_still_create_and_edit_end_users_and_themselves(zendesk_server: ZendeskServer) -> None:
    created = as_agent(zendesk_server, "POST", "/api/v2/users.json",
                       {"user": {"name": "Walk In", "email": f"walk-{uuid.uuid4().hex[:8]}@example.org"}})
    user_id = created.json()["user"]["id"]
    renamed = as_agent(zendesk_server, "PUT", f"/api/v2/users/{user_id}.json",
                       {"user": {"name": "Walk In Customer", "role": "end-user", "tags": "vip"}})
    itself = as_agent(zendesk_server, "PUT", f"/api/v2/users/{AGENT_ID}.json",
                      {"user": {"name": "Example Agent", "role": "agent", "email": "AGENT@example.com"}})
    assert (created.status_code, renamed.status_code, itself.status_code) == (201, 200, 200)
    assert renamed.json()["user"]["name"] == "Walk In Customer" and renamed.json()["user"]["tags"] == ["vip"]


def test_admins_change_roles_and_emails(zendesk_server: ZendeskServer) -> None:
    user_id = new_end_user(zendesk_server, "Promoted")
    with zendesk_server.client() as client:
        response = client.put(f"/api/v2/users/{user_id}.json",
                              json={"user": {"role": "agent", "email": f"staff-{user_id}@example.org"}})
    assert response.status_code == 200
    assert (response.json()["user"]["role"], response.json()["user"]["email"]) == (
        "agent", f"staff-{user_id}@example.org")
