"""The ticket event export: one event per audit, child events true to the ticket's history (reference §3.8, §6.2)."""

from __future__ import annotations

from typing import Any

from zendesk_export.testing import ZendeskServer

EVENTS = "/api/v2/incremental/ticket_events.json"
T0 = 1_700_000_000


def history(server: ZendeskServer) -> int:
    """A ticket created at T0, updated at T0+10 (status, tags, comment), plus a no-op update; visible."""
    server.admin.freeze(T0)
    with server.client() as client:
        ticket_id = client.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "Printer", "comment": {"body": "It jams"}, "priority": "high", "tags": ["hw"]}}).json()
        ticket_id = ticket_id["ticket"]["id"]
        server.admin.advance(10)
        client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {
            "status": "open", "tags": ["hw", "urgent"], "comment": {"body": "On it", "public": False}}})
        client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"priority": "high"}})  # no change
    server.admin.advance(61)
    return ticket_id


def events(server: ZendeskServer, **params: Any) -> dict[str, Any]:
    with server.client() as client:
        return client.get(EVENTS, params={"start_time": 0, **params}).json()


def test_one_event_per_event_producing_write(zendesk_server: ZendeskServer) -> None:
    ticket_id = history(zendesk_server)
    body = events(zendesk_server)
    assert list(body) == ["ticket_events", "next_page", "count", "end_of_stream", "end_time"]
    assert [(e["ticket_id"], e["timestamp"], e["event_type"]) for e in body["ticket_events"]] == [
        (ticket_id, T0, "Audit"), (ticket_id, T0 + 10, "Audit")]
    assert body["end_time"] == T0 + 10 and body["end_of_stream"] is True


def test_child_events_carry_one_field_each_with_via_as_a_string(zendesk_server: ZendeskServer) -> None:
    history(zendesk_server)
    created, changed = events(zendesk_server)["ticket_events"]
    assert created["via"] == "Web service" and created["updater_id"] == 1
    kinds = {(c["event_type"], next(k for k in c if k not in ("id", "via", "via_reference_id", "event_type",
                                                              "previous_value", "added_tags", "removed_tags",
                                                              "comment_public")))
             for c in created["child_events"]}
    assert {("Comment", "comment_present"), ("Create", "subject"), ("Create", "priority"),
            ("Create", "tags")} <= kinds
    status = next(c for c in changed["child_events"] if "status" in c)
    assert status == {"id": status["id"], "via": "Web service", "via_reference_id": None, "status": "open",
                      "event_type": "Change", "previous_value": "new"}
    tags = next(c for c in changed["child_events"] if "tags" in c)
    assert (tags["added_tags"], tags["removed_tags"]) == (["urgent"], [])
    comment = next(c for c in changed["child_events"] if c["event_type"] == "Comment")
    assert (comment["comment_present"], comment["comment_public"]) == (True, False)
    assert "body" not in comment


def test_ids_are_numbers_in_child_events(zendesk_server: ZendeskServer) -> None:
    history(zendesk_server)
    created = events(zendesk_server)["ticket_events"][0]
    requester = next(c for c in created["child_events"] if "requester_id" in c)
    assert requester["requester_id"] == 1


def test_comment_events_embed_the_whole_comment(zendesk_server: ZendeskServer) -> None:
    history(zendesk_server)
    created = events(zendesk_server, include="comment_events")["ticket_events"][0]
    comment = next(c for c in created["child_events"] if c["event_type"] == "Comment")
    assert comment["body"] == "It jams" and comment["public"] is True and comment["type"] == "Comment"
    assert isinstance(comment["via"], dict) and comment["via"]["channel"] == "api"
    assert comment["created_at"] == "2023-11-14T22:13:20Z"


def test_time_paging_rules_apply_to_events(zendesk_server: ZendeskServer) -> None:
    history(zendesk_server)
    first = events(zendesk_server, per_page=1)
    assert first["count"] == 1 and first["end_time"] == T0 + 1 and first["end_of_stream"] is False
    assert first["next_page"].endswith(f"/api/v2/incremental/ticket_events.json?per_page=1&start_time={T0 + 1}")


def test_events_within_the_last_minute_are_hidden(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(T0)
    with zendesk_server.client() as client:
        client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "c"}})
    zendesk_server.admin.advance(30)
    assert events(zendesk_server, start_time=T0 - 100)["ticket_events"] == []


def test_seeded_tickets_have_events_true_to_their_fields(zendesk_server: ZendeskServer) -> None:
    """Replaying each seeded ticket's child events gives its exported subject, status and assignee."""
    zendesk_server.admin.seed(tickets=60, random_seed=3)
    with zendesk_server.client() as client:
        tickets = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()["tickets"]
    replayed: dict[int, dict[str, Any]] = {}
    for event in events(zendesk_server)["ticket_events"]:
        state = replayed.setdefault(event["ticket_id"], {})
        for child in event["child_events"]:
            state.update({k: v for k, v in child.items() if k in ("subject", "status", "assignee_id", "group_id")})
    live = [t for t in tickets if t["status"] != "deleted"]
    assert live and len(replayed) == len(tickets)
    for ticket in live:
        state = replayed[ticket["id"]]
        assert (state["subject"], state["status"]) == (ticket["subject"], ticket["status"])
        assert state.get("assignee_id") == ticket["assignee_id"]
