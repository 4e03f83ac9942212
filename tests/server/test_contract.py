"""Contract tests: our responses against responses recorded from real Zendesk (zenpy's cassettes).

The recorded tickets are loaded into our store verbatim (same ids, same timestamps), then the recorded requests
are replayed against our server: pages must hold the same tickets, with the same envelope, byte-for-byte the
same ticket JSON except the host in URLs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.reference import cassette
from tests.shapes import assert_same_shape
from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import parse_time

ENVELOPE_KEYS = ["tickets", "count", "end_of_stream", "next_page", "end_time"]
# Zendesk places the client's IP address on a map; we do not (DIFFERENCES.md): null, as for an unknown address.
NO_GEOLOCATION = ["system.location", "system.latitude", "system.longitude"]


def recorded_pages(name: str, path: str) -> list[dict[str, Any]]:
    """The recorded 200 responses of one endpoint, with their request URIs."""
    pages = []
    for item in cassette(name):
        uri = item["request"]["uri"]
        if urlsplit(uri).path == path and item["response"]["status"]["code"] == 200:
            pages.append({"uri": uri, "body": item["response"]["body"]})
    return pages


def load_tickets(server: ZendeskServer, tickets: list[dict[str, Any]]) -> None:
    """Put recorded tickets into the server's store exactly as recorded."""
    store = server.running.store
    account = store.account(None)
    assert account is not None
    with store.write(account.id) as writer:
        for recorded in tickets:
            ticket = {k: v for k, v in recorded.items() if k not in ("url", "fields")}
            ticket["created_at"] = parse_time(recorded["created_at"])
            ticket["updated_at"] = parse_time(recorded["updated_at"])
            ticket["deleted_at"] = None
            writer.put_ticket(ticket)


def replay(server: ZendeskServer, recorded_uri: str) -> httpx.Response:
    parts = urlsplit(recorded_uri)
    with server.client() as client:
        return client.get(parts.path, params=parse_qsl(parts.query))


def without_host(value: Any) -> Any:
    """URLs compared without scheme and host: ours are on the host the client used."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path
    if isinstance(value, dict):
        return {k: without_host(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_host(v) for v in value]
    return value


@pytest.fixture
def pagination_tickets(zendesk_server: ZendeskServer) -> ZendeskServer:
    """The server holding the 1000 tickets of the recorded `start_time=0` page (Sept 2023)."""
    first = recorded_pages("TicketsIncrementalTest.test_pagination", "/api/v2/incremental/tickets.json")[0]
    load_tickets(zendesk_server, first["body"]["tickets"])
    return zendesk_server


def test_full_page_matches_recording_ticket_for_ticket(pagination_tickets: ZendeskServer) -> None:
    """`start_time=0`: same 1000 tickets, same JSON per ticket, same envelope (keys in order)."""
    first = recorded_pages("TicketsIncrementalTest.test_pagination", "/api/v2/incremental/tickets.json")[0]
    ours = replay(pagination_tickets, first["uri"])
    assert ours.status_code == 200
    assert ours.headers["content-type"] == "application/json; charset=utf-8"
    body = ours.json()
    assert list(body) == ENVELOPE_KEYS
    assert without_host({k: v for k, v in body.items() if k != "tickets"}) == without_host(
        {k: v for k, v in first["body"].items() if k != "tickets"}
    )
    recorded_by_id = {t["id"]: t for t in first["body"]["tickets"]}
    assert [t["id"] for t in body["tickets"]] == sorted(recorded_by_id, key=lambda i: (
        recorded_by_id[i]["generated_timestamp"], i))
    for ticket in body["tickets"]:
        assert list(ticket) == list(recorded_by_id[ticket["id"]])
        assert without_host(ticket) == without_host(recorded_by_id[ticket["id"]])


def test_per_page_one_chain_expands_each_timestamp_group_like_zendesk(pagination_tickets: ZendeskServer) -> None:
    """The recorded chain of `per_page=1` pages (groups of 7, 6, 10, 5 … tickets sharing one second, then a
    gap) is reproduced page by page: same tickets, count, end_time (= ts + 1), end_of_stream, next_page."""
    chain = [p for p in recorded_pages("TicketsIncrementalTest.test_pagination", "/api/v2/incremental/tickets.json")
             if "per_page=1" in p["uri"]]
    assert len(chain) >= 15
    for recorded in chain:
        ours = replay(pagination_tickets, recorded["uri"]).json()
        assert list(ours) == ENVELOPE_KEYS
        assert sorted(t["id"] for t in ours["tickets"]) == sorted(t["id"] for t in recorded["body"]["tickets"])
        for key in ("count", "end_of_stream", "end_time"):
            assert ours[key] == recorded["body"][key], (recorded["uri"], key)
        assert without_host(ours["next_page"]) == without_host(recorded["body"]["next_page"])


def test_last_page_ends_stream_with_non_null_next_page(zendesk_server: ZendeskServer) -> None:
    """Feb 2024 recording: 87 tickets, `end_of_stream: true`, `next_page` still set at `start_time=end_time`."""
    pages = recorded_pages("TicketsIncrementalTest.test_get_values", "/api/v2/incremental/tickets.json")
    load_tickets(zendesk_server, pages[0]["body"]["tickets"])
    for recorded in pages:
        ours = replay(zendesk_server, recorded["uri"]).json()
        assert without_host({k: v for k, v in ours.items() if k != "tickets"}) == without_host(
            {k: v for k, v in recorded["body"].items() if k != "tickets"}
        )
        assert sorted(t["id"] for t in ours["tickets"]) == sorted(t["id"] for t in recorded["body"]["tickets"])


def test_created_ticket_has_the_recorded_create_response_shape(zendesk_server: ZendeskServer) -> None:
    """`POST /tickets.json` as zenpy recorded it: 201, Location, `{ticket, audit}`, same keys and types."""
    recorded = next(i for i in cassette("TestTicketCreateUpdateDelete.test_single_object_creation-create-single")
                    if i["request"]["method"] == "POST")
    with zendesk_server.client() as client:
        ours = client.post("/api/v2/tickets.json", json=recorded["request"]["body"])
    assert ours.status_code == recorded["response"]["status"]["code"] == 201
    assert urlsplit(ours.headers["location"]).path == f"/api/v2/tickets/{ours.json()['ticket']['id']}.json"
    body, real = ours.json(), recorded["response"]["body"]
    assert list(body) == list(real) == ["ticket", "audit"]
    # The demo admin has no organization (the recorded one had): the ticket's and the Create event's are null.
    assert_same_shape(body, real, nullable=["ticket.organization_id", "audit.events[].value", *NO_GEOLOCATION])


def test_updated_ticket_has_the_recorded_update_response_shape(zendesk_server: ZendeskServer) -> None:
    """`PUT /tickets/{id}.json`: 200 `{ticket, audit}` whose Change event has `previous_value`."""
    recorded = next(i for i in cassette("TestTicketCreateUpdateDelete.test_single_object_update-update-single")
                    if i["request"]["method"] == "PUT")
    with zendesk_server.client() as client:
        created = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "test", "description": "test"}})
        ticket_id = created.json()["ticket"]["id"]
        request_body = {"ticket": {**recorded["request"]["body"]["ticket"], "id": ticket_id}}
        ours = client.put(f"/api/v2/tickets/{ticket_id}.json", json=request_body)
    assert ours.status_code == 200
    real = recorded["response"]["body"]
    assert_same_shape(ours.json(), real, nullable=["ticket.organization_id", *NO_GEOLOCATION])
    assert ours.json()["audit"]["events"] == [
        {**real["audit"]["events"][0], "id": ours.json()["audit"]["events"][0]["id"]}
    ]
