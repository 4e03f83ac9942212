"""Ticket metrics and metric events follow from the ticket's own history: one ticket's life, written through the
Tickets API with the clock frozen, gives the minutes, counts and events a reader of Zendesk expects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer

T0 = 1_750_000_000


def call(server: ZendeskServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with server.client() as client:
        return client.request(method, path, **kwargs)


@pytest.fixture
def lived(zendesk_server: ZendeskServer) -> tuple[ZendeskServer, int]:
    """Created by an agent for a customer at T0; a public agent reply 10 min later; solved 30 min after
    creation; reopened 5 min after that; solved again 10 min later."""
    server = zendesk_server
    server.admin.freeze(T0)
    customer = call(server, "POST", "/api/v2/users.json", json={"user": {"name": "Cus", "email": "cus@example.org"}})
    customer_id = customer.json()["user"]["id"]
    ticket = call(server, "POST", "/api/v2/tickets.json", json={"ticket": {
        "subject": "Help", "comment": "it broke", "requester_id": customer_id}}).json()["ticket"]
    steps = [(600, {"comment": {"body": "Try again", "public": True}}), (1200, {"status": "solved"}),
             (300, {"status": "open", "comment": {"body": "still broken", "public": False}}),
             (600, {"status": "solved"})]
    for seconds, change in steps:
        server.admin.advance(seconds)
        assert call(server, "PUT", f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": change}).status_code == 200
    server.admin.advance(61)
    return server, ticket["id"]


def test_metric_set_counts_replies_reopens_and_minutes(lived: tuple[ZendeskServer, int]) -> None:
    server, ticket_id = lived
    metric = call(server, "GET", f"/api/v2/tickets/{ticket_id}/metrics.json").json()["ticket_metric"]
    assert (metric["replies"], metric["reopens"], metric["assignee_stations"]) == (1, 1, 0)
    assert metric["reply_time_in_minutes"] == {"calendar": 10, "business": 10}
    assert metric["first_resolution_time_in_minutes"] == {"calendar": 30, "business": 30}
    assert metric["full_resolution_time_in_minutes"] == {"calendar": 45, "business": 45}
    assert metric["solved_at"] == "2025-06-15T15:51:40Z"  # T0 + 2700 s
    assert metric["created_at"] == "2025-06-15T15:06:40Z" and metric["updated_at"] == metric["solved_at"]
    # new/open for 30 minutes, then open again for 10: the 5 solved minutes are nobody's wait
    assert metric["requester_wait_time_in_minutes"] == {"calendar": 40, "business": 40}


def test_metric_set_is_the_same_from_every_endpoint(lived: tuple[ZendeskServer, int]) -> None:
    server, ticket_id = lived
    shown = call(server, "GET", f"/api/v2/ticket_metrics/{ticket_id}").json()["ticket_metric"]
    listed = call(server, "GET", "/api/v2/ticket_metrics.json").json()["ticket_metrics"]
    exported = call(server, "GET", "/api/v2/incremental/tickets/cursor.json",
                    params={"start_time": 0, "include": "metric_sets"}).json()["tickets"]
    assert listed == [shown]
    assert [t["metric_set"] for t in exported] == [shown]


def test_metric_events_follow_the_same_history(lived: tuple[ZendeskServer, int]) -> None:
    server, ticket_id = lived
    body = call(server, "GET", "/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).json()
    assert body["end_of_stream"] is True and body["count"] == len(body["ticket_metric_events"])
    events = [(e["metric"], e["instance_id"], e["type"]) for e in body["ticket_metric_events"]
              if e["metric"] in ("reply_time", "resolution_time")]
    assert events == [
        ("reply_time", 0, "measure"), ("resolution_time", 0, "measure"),
        ("reply_time", 1, "activate"), ("resolution_time", 1, "activate"),
        ("reply_time", 1, "fulfill"), ("reply_time", 1, "update_status"),
        ("resolution_time", 1, "fulfill"), ("resolution_time", 1, "update_status"),
        ("resolution_time", 2, "activate"),
        ("resolution_time", 2, "fulfill"), ("resolution_time", 2, "update_status"),
    ]
    statuses = [e["status"] for e in body["ticket_metric_events"] if e["type"] == "update_status"]
    assert statuses == [{"calendar": 10, "business": 10}, {"calendar": 30, "business": 30},
                        {"calendar": 45, "business": 45}]
    assert {e["ticket_id"] for e in body["ticket_metric_events"]} == {ticket_id}
    assert len({e["id"] for e in body["ticket_metric_events"]}) == body["count"]


def test_metric_events_page_by_time_like_the_other_exports(lived: tuple[ZendeskServer, int]) -> None:
    server, _ = lived
    first = call(server, "GET", "/api/v2/incremental/ticket_metric_events.json",
                 params={"start_time": 0, "per_page": 2}).json()
    assert first["end_of_stream"] is False
    assert first["next_page"].endswith(f"per_page=2&start_time={first['end_time']}")
    assert set(first) == {"ticket_metric_events", "next_page", "count", "end_of_stream", "end_time"}
    too_recent = call(server, "GET", "/api/v2/incremental/ticket_metric_events.json",
                      params={"start_time": T0 + 10_000})
    assert too_recent.status_code == 422


def test_metric_events_need_an_admin(lived: tuple[ZendeskServer, int]) -> None:
    server, _ = lived
    with httpx.Client(base_url=server.url, auth=("agent@example.com/token", "agent-token")) as agent:
        assert agent.get("/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).status_code == 403


def test_metric_events_by_cursor_are_the_time_based_events(lived: tuple[ZendeskServer, int]) -> None:
    """With `page[size]` (Airbyte, estuary), the list envelope: `meta.has_more` and `links.next` lead through
    the same events, in the same order."""
    server, _ = lived
    timed = call(server, "GET", "/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).json()
    events: list[dict[str, Any]] = []
    with server.client() as client:
        body = client.get("/api/v2/incremental/ticket_metric_events.json",
                          params={"start_time": 0, "page[size]": 2}).json()
        assert list(body) == ["ticket_metric_events", "meta", "links"]
        events += body["ticket_metric_events"]
        while body["meta"]["has_more"]:
            body = client.get(body["links"]["next"]).json()
            events += body["ticket_metric_events"]
    assert events == timed["ticket_metric_events"]
    too_big = call(server, "GET", "/api/v2/incremental/ticket_metric_events.json",
                   params={"start_time": 0, "page[size]": 1001})
    assert (too_big.status_code, too_big.json()["error"]) == (400, "InvalidPaginationParameter")
