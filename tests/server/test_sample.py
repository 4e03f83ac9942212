"""The sample export `GET /api/v2/incremental/{resource}/sample`: at most 50 items, same envelope (§1.4)."""

from __future__ import annotations

import pytest

from zendesk_export.testing import ZendeskServer

ENVELOPES = {
    "tickets": ["tickets", "count", "end_of_stream", "next_page", "end_time"],
    "ticket_events": ["ticket_events", "next_page", "count", "end_of_stream", "end_time"],
    "users": ["users", "next_page", "count", "end_of_stream", "end_time"],
    "organizations": ["organizations", "next_page", "count", "end_of_stream", "end_time"],
}


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=300, random_seed=1)
    return zendesk_server


@pytest.mark.parametrize("resource", sorted(ENVELOPES))
def test_sample_has_the_normal_envelope_and_at_most_50_items(seeded: ZendeskServer, resource: str) -> None:
    with seeded.client() as client:
        body = client.get(f"/api/v2/incremental/{resource}/sample.json", params={"start_time": 0}).json()
    assert list(body) == ENVELOPES[resource]
    assert 0 < body["count"] == len(body[resource]) <= 50


def test_sample_caps_even_a_larger_per_page(seeded: ZendeskServer) -> None:
    with seeded.client() as client:
        body = client.get("/api/v2/incremental/tickets/sample.json", params={"start_time": 0, "per_page": 500})
    assert body.json()["count"] == 50
    assert "/incremental/tickets/sample.json?" in body.json()["next_page"]


def test_sample_needs_start_time(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.get("/api/v2/incremental/tickets/sample.json")
    assert (response.status_code, response.json()["error"]) == (400, "ParameterMissing")
