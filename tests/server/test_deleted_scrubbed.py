"""Deleted and scrubbed tickets in the exports (reference §3.6, Appendix A 10)."""

from __future__ import annotations

from typing import Any

import pytest

from zendesk_export.testing import ZendeskServer

T0 = 1_700_000_000
SCRUB_AFTER = 30 * 24 * 60 * 60  # Zendesk scrubs a deleted ticket 30 days after its deletion
PATHS = ["/api/v2/incremental/tickets.json", "/api/v2/incremental/tickets/cursor.json"]


def deleted_ticket(server: ZendeskServer) -> int:
    """A ticket with tags and a custom field, created at T0 and deleted at T0+5."""
    server.admin.freeze(T0)
    with server.client() as client:
        ticket_id = client.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "Secret", "comment": "private", "tags": ["x"], "custom_fields": [{"id": 1, "value": "v"}]}})
        ticket_id = ticket_id.json()["ticket"]["id"]
        client.post("/api/v2/tickets.json", json={"ticket": {"subject": "kept", "comment": "c"}})
        server.admin.advance(5)
        client.delete(f"/api/v2/tickets/{ticket_id}.json")
    return ticket_id


def exported(server: ZendeskServer, path: str = PATHS[0], **params: Any) -> dict[int, dict[str, Any]]:
    with server.client() as client:
        body = client.get(path, params={"start_time": 0, **params}).json()
    return {t["id"]: t for t in body["tickets"]}


@pytest.mark.parametrize("path", PATHS)
def test_soft_deleted_ticket_is_exported_as_deleted_with_its_content(zendesk_server: ZendeskServer,
                                                                    path: str) -> None:
    ticket_id = deleted_ticket(zendesk_server)
    zendesk_server.admin.advance(61)
    ticket = exported(zendesk_server, path)[ticket_id]
    assert (ticket["status"], ticket["subject"], ticket["generated_timestamp"]) == ("deleted", "Secret", T0 + 5)
    assert ticket["updated_at"] == "2023-11-14T22:13:20Z"  # T0: deleting is not an event


@pytest.mark.parametrize("path", PATHS)
def test_exclude_deleted_drops_them(zendesk_server: ZendeskServer, path: str) -> None:
    ticket_id = deleted_ticket(zendesk_server)
    zendesk_server.admin.advance(61)
    kept = exported(zendesk_server, path, exclude_deleted="true")
    assert ticket_id not in kept and len(kept) == 1


def assert_scrubbed(ticket: dict[str, Any]) -> None:
    assert (ticket["subject"], ticket["raw_subject"], ticket["description"]) == ("SCRUBBED", "SCRUBBED", "X")
    assert (ticket["tags"], ticket["custom_fields"], ticket["fields"]) == ([], [], [])
    assert ticket["status"] == "deleted" and ticket["updated_at"] == "2023-11-14T22:13:20Z"


def test_admin_scrub_scrubs_at_once_and_bumps_generated_timestamp(zendesk_server: ZendeskServer) -> None:
    ticket_id = deleted_ticket(zendesk_server)
    zendesk_server.admin.advance(100)
    assert zendesk_server.admin.scrub() == [ticket_id]
    zendesk_server.admin.advance(61)
    ticket = exported(zendesk_server)[ticket_id]
    assert_scrubbed(ticket)
    assert ticket["generated_timestamp"] == T0 + 105


def test_scrub_of_a_live_ticket_does_nothing(zendesk_server: ZendeskServer) -> None:
    live = deleted_ticket(zendesk_server) + 1
    assert zendesk_server.admin.scrub([live]) == []


def test_tickets_deleted_30_days_ago_are_scrubbed_when_an_export_runs(zendesk_server: ZendeskServer) -> None:
    ticket_id = deleted_ticket(zendesk_server)
    zendesk_server.admin.advance(SCRUB_AFTER - 10)
    assert exported(zendesk_server)[ticket_id]["subject"] == "Secret"
    zendesk_server.admin.advance(20)
    first = exported(zendesk_server)  # the export that notices: scrubbed now, so within the hidden minute
    assert ticket_id not in first
    zendesk_server.admin.advance(61)
    ticket = exported(zendesk_server)[ticket_id]
    assert_scrubbed(ticket)
    assert ticket["generated_timestamp"] == T0 + 5 + SCRUB_AFTER + 10


def test_a_cursor_exporter_sees_the_scrub_as_a_new_change(zendesk_server: ZendeskServer) -> None:
    ticket_id = deleted_ticket(zendesk_server)
    zendesk_server.admin.advance(61)
    with zendesk_server.client() as client:
        first = client.get(PATHS[1], params={"start_time": 0}).json()
        zendesk_server.admin.scrub([ticket_id])
        zendesk_server.admin.advance(61)
        later = client.get(PATHS[1], params={"cursor": first["after_cursor"]}).json()
    assert [t["id"] for t in later["tickets"]] == [ticket_id]
    assert_scrubbed(later["tickets"][0])


def test_seeding_scrubs_tickets_deleted_long_ago(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=400, random_seed=5)
    tickets = exported(zendesk_server).values()
    deleted = [t for t in tickets if t["status"] == "deleted"]
    assert any(t["subject"] == "SCRUBBED" for t in deleted)
    assert all(t["description"] == "X" for t in deleted if t["subject"] == "SCRUBBED")
