"""Tickets API behaviour: defaults, validation, audits, and which writes move which timestamp."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer


def export(client: httpx.Client) -> dict[int, dict[str, Any]]:
    page = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
    return {t["id"]: t for t in page["tickets"]}


@pytest.fixture
def client(zendesk_server: ZendeskServer) -> httpx.Client:
    zendesk_server.admin.freeze(1_800_000_000)
    with zendesk_server.client() as c:
        yield c


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "hello"}, **fields}})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("path", ["/api/v2/tickets", "/api/v2/tickets.json"])
def test_create_with_and_without_json_suffix(client: httpx.Client, path: str) -> None:
    response = client.post(path, json={"ticket": {"subject": "s", "comment": {"body": "b"}}})
    assert response.status_code == 201
    assert response.headers["location"].endswith(f"/api/v2/tickets/{response.json()['ticket']['id']}.json")


def test_new_ticket_defaults(client: httpx.Client) -> None:
    ticket = create(client, subject="Printer on fire")["ticket"]
    assert ticket["status"] == "new"
    assert ticket["via"] == {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
    assert ticket["description"] == "hello"
    assert ticket["raw_subject"] == "Printer on fire"
    assert ticket["requester_id"] == ticket["submitter_id"]
    assert ticket["created_at"] == ticket["updated_at"] == "2027-01-15T08:00:00Z"
    assert "generated_timestamp" not in ticket


def test_legacy_description_creates_the_first_comment(client: httpx.Client) -> None:
    response = client.post("/api/v2/tickets", json={"ticket": {"subject": "s", "description": "via description"}})
    assert response.json()["ticket"]["description"] == "via description"


def test_ticket_with_assignee_starts_open(zendesk_server: ZendeskServer, client: httpx.Client) -> None:
    store = zendesk_server.running.store
    account = store.account(None)
    assert account is not None
    agent = store.user_by_email(account.id, zendesk_server.agent_email)
    assert agent is not None
    assert create(client, assignee_id=agent.id)["ticket"]["status"] == "open"


@pytest.mark.parametrize(("field", "value"), [
    ("status", "exploded"), ("priority", "meh"), ("type", "bug"), ("requester_id", "abc"),
    ("tags", 5), ("custom_fields", [{"value": 1}]), ("collaborator_ids", ["x"]), ("due_at", "tomorrow"),
    ("subject", 12),
])
def test_invalid_field_gets_422_naming_the_field(client: httpx.Client, field: str, value: Any) -> None:
    response = client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "b"}, field: value}})
    assert response.status_code == 422
    assert list(response.json()["details"]) == [field]
    assert response.json()["details"][field][0]["error"] == "InvalidValue"


def test_invalid_write_leaves_no_ticket_behind(zendesk_server: ZendeskServer, client: httpx.Client) -> None:
    client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "b"}, "status": "bad"}})
    zendesk_server.admin.advance(61)
    assert export(client) == {}


def test_update_changes_fields_and_records_change_events(client: httpx.Client) -> None:
    ticket_id = create(client, subject="a", tags=["one"])["ticket"]["id"]
    response = client.put(f"/api/v2/tickets/{ticket_id}.json",
                          json={"ticket": {"priority": "high", "additional_tags": ["two"]}})
    events = {e["field_name"]: e for e in response.json()["audit"]["events"]}
    assert events["priority"] == {**events["priority"], "type": "Change", "value": "high", "previous_value": None}
    assert events["tags"]["value"] == ["one", "two"]
    assert response.json()["ticket"]["tags"] == ["one", "two"]


def test_comment_on_update_is_an_event_and_moves_updated_at(zendesk_server: ZendeskServer,
                                                            client: httpx.Client) -> None:
    ticket_id = create(client)["ticket"]["id"]
    zendesk_server.admin.advance(100)
    response = client.put(f"/api/v2/tickets/{ticket_id}", json={"ticket": {"comment": {"body": "more",
                                                                                         "public": False}}})
    comment = response.json()["audit"]["events"][0]
    assert (comment["type"], comment["body"], comment["public"]) == ("Comment", "more", False)
    assert response.json()["ticket"]["updated_at"] == "2027-01-15T08:01:40Z"


def test_write_without_events_bumps_generated_timestamp_but_not_updated_at(zendesk_server: ZendeskServer,
                                                                          client: httpx.Client) -> None:
    ticket_id = create(client, priority="low")["ticket"]["id"]
    zendesk_server.admin.advance(100)
    unchanged = client.put(f"/api/v2/tickets/{ticket_id}", json={"ticket": {"priority": "low"}})
    assert unchanged.json()["audit"]["events"] == []
    zendesk_server.admin.advance(61)
    exported = export(client)[ticket_id]
    assert exported["updated_at"] == "2027-01-15T08:00:00Z"
    assert exported["generated_timestamp"] == 1_800_000_100


def test_delete_is_a_system_write_and_hides_the_ticket(zendesk_server: ZendeskServer, client: httpx.Client) -> None:
    ticket_id = create(client)["ticket"]["id"]
    zendesk_server.admin.advance(30)
    response = client.delete(f"/api/v2/tickets/{ticket_id}.json")
    assert (response.status_code, response.content) == (204, b"")
    assert client.get(f"/api/v2/tickets/{ticket_id}").status_code == 404
    assert client.put(f"/api/v2/tickets/{ticket_id}", json={"ticket": {"status": "open"}}).status_code == 404
    assert client.delete(f"/api/v2/tickets/{ticket_id}").status_code == 404
    zendesk_server.admin.advance(61)
    exported = export(client)[ticket_id]
    assert exported["status"] == "deleted"
    assert exported["updated_at"] == "2027-01-15T08:00:00Z"
    assert exported["generated_timestamp"] == 1_800_000_030


def test_closed_ticket_cannot_be_updated(client: httpx.Client) -> None:
    ticket_id = create(client, status="closed")["ticket"]["id"]
    response = client.put(f"/api/v2/tickets/{ticket_id}", json={"ticket": {"status": "open"}})
    assert response.status_code == 422
    assert response.json()["details"]["status"][0]["error"] == "ClosedPreventsUpdate"


def test_show_returns_the_ticket_without_generated_timestamp(client: httpx.Client) -> None:
    created = create(client, subject="shown")["ticket"]
    shown = client.get(f"/api/v2/tickets/{created['id']}.json").json()
    assert shown == {"ticket": created}


def test_custom_fields_merge_by_id_and_fields_mirrors_them(client: httpx.Client) -> None:
    ticket_id = create(client, custom_fields=[{"id": 1, "value": "a"}, {"id": 2, "value": True}])["ticket"]["id"]
    updated = client.put(f"/api/v2/tickets/{ticket_id}",
                         json={"ticket": {"custom_fields": [{"id": 2, "value": False}]}}).json()["ticket"]
    assert updated["custom_fields"] == [{"id": 1, "value": "a"}, {"id": 2, "value": False}]
    assert updated["fields"] == updated["custom_fields"]
