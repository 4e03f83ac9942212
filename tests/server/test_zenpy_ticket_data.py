"""zenpy, unmodified except for its base URL, reading the ticket data: audits, comments, metrics, metric events,
satisfaction ratings, deleted tickets (restore and delete for good), search and the search export. What zenpy
reads must be what the server holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from zendesk_export.testing import ZendeskServer

pytest.importorskip("zenpy", reason="zenpy could not be installed into its own virtualenv (offline?)")
from zenpy import Zenpy  # noqa: E402
from zenpy.lib.api_objects import Comment, Ticket  # noqa: E402

T0 = 1_750_000_000


@pytest.fixture
def zenpy(zendesk_server: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zenpy]:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zendesk_server.url.removeprefix("http://"))
    yield Zenpy(subdomain="example", email=zendesk_server.email, token=zendesk_server.token)


def server_get(server: ZendeskServer, path: str, **params: Any) -> Any:
    with server.client() as client:
        return client.get(path, params=params).json()


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.freeze(T0)
    zendesk_server.admin.seed(tickets=150, random_seed=9)
    return zendesk_server


def test_audits_and_comments_of_a_ticket(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    ticket = zenpy.tickets.create(Ticket(subject="hello", description="first")).ticket
    ticket.comment = Comment(body="second", public=False)
    zenpy.tickets.update(ticket)
    audits = list(zenpy.tickets.audits(ticket=ticket.id))
    assert [a.id for a in audits] == [a["id"] for a in server_get(
        zendesk_server, f"/api/v2/tickets/{ticket.id}/audits.json")["audits"]]
    assert [(c.body, c.public) for c in zenpy.tickets.comments(ticket=ticket.id)] == [("first", True),
                                                                                      ("second", False)]


def test_every_audit_through_the_cursor_list(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    ids = [a.id for a in zenpy.tickets.audits()]
    expected = server_get(seeded, "/api/v2/incremental/ticket_events.json", start_time=0)
    assert sorted(ids) == sorted(e["id"] for e in expected["ticket_events"])


def test_metrics_list_and_one_tickets_metrics(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    metrics = list(zenpy.ticket_metrics())
    expected = server_get(seeded, "/api/v2/ticket_metrics.json", per_page=100)["count"]
    assert len(metrics) == expected
    one = zenpy.tickets.metrics(ticket=metrics[0].ticket_id)
    assert one.to_dict() == metrics[0].to_dict()


def test_metric_events_from_the_time_based_export(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    events = list(zenpy.ticket_metric_events(start_time=0))
    expected = server_get(seeded, "/api/v2/incremental/ticket_metric_events.json", start_time=0)
    assert [e.id for e in events] == [e["id"] for e in expected["ticket_metric_events"]]


def test_satisfaction_ratings_are_the_servers(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    ratings = {r.id: (r.ticket_id, r.score) for r in zenpy.satisfaction_ratings()}
    expected = server_get(seeded, "/api/v2/satisfaction_ratings.json", per_page=100)
    assert len(ratings) == expected["count"] > 0
    first = expected["satisfaction_ratings"][0]
    assert ratings[first["id"]] == (first["ticket_id"], first["score"])


def test_deleted_tickets_restore_and_delete_for_good(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    kept, gone = (zenpy.tickets.create(Ticket(subject=s, description="d")).ticket for s in ("kept", "gone"))
    zenpy.tickets.delete(kept)
    zenpy.tickets.delete(gone)
    assert sorted(t.id for t in zenpy.tickets.deleted()) == sorted([kept.id, gone.id])
    zenpy.tickets.restore(kept)
    assert zenpy.tickets(id=kept.id).subject == "kept"
    job = zenpy.tickets.permanently_delete(gone)
    assert job.status == "queued"
    assert list(zenpy.tickets.deleted()) == []


def test_search_and_search_export(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    open_ids = sorted(t.id for t in zenpy.search(type="ticket", status="open"))
    count = server_get(seeded, "/api/v2/search/count.json", query="type:ticket status:open")["count"]
    assert len(open_ids) == count > 0
    exported = sorted(t.id for t in zenpy.search_export(type="ticket", status="open"))
    assert exported == open_ids
