"""zenpy, unmodified, against the server: incremental exports (cursor and time), CRUD, bulk jobs with polling.

zenpy reads ``ZENPY_FORCE_SCHEME``/``ZENPY_FORCE_NETLOC`` from the environment on every request (zenpy/lib/api.py
``_build_url``/``base_url``), so pointing it at the server is two environment variables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from zendesk_export.testing import ZendeskServer

pytest.importorskip("zenpy", reason="zenpy could not be installed into its own virtualenv (offline?)")
from zenpy import Zenpy  # noqa: E402
from zenpy.lib.api_objects import Ticket  # noqa: E402
from zenpy.lib.exception import APIException, RecordNotFoundException  # noqa: E402


@pytest.fixture
def zenpy(zendesk_server: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zenpy]:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zendesk_server.url.removeprefix("http://"))
    yield Zenpy(subdomain="example", email=zendesk_server.email, token=zendesk_server.token)


def server_tickets(server: ZendeskServer) -> dict[int, dict[str, Any]]:
    """Every ticket as the server's own time-based export gives it (the truth zenpy must match)."""
    with server.client() as client:
        body = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()
    assert body["end_of_stream"]
    return {t["id"]: t for t in body["tickets"]}


def wait_for_job(zenpy: Zenpy, job: Any) -> Any:
    """Poll as zenpy's own test suite does, until the job is completed (bounded: never loops forever)."""
    for _ in range(10):
        if job.status == "completed":
            return job
        job = zenpy.job_status(id=job.id)
    raise AssertionError(f"job {job.id} still {job.status}")


def create_some(zenpy: Zenpy, count: int) -> list[int]:
    return [zenpy.tickets.create(Ticket(subject=f"t{i}", description="d")).ticket.id for i in range(count)]


def test_cursor_incremental_gets_exactly_the_servers_tickets(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    create_some(zenpy, 5)
    zendesk_server.admin.advance(61)
    got = {t.id: t.to_dict() for t in zenpy.tickets.incremental(start_time=0)}
    expected = server_tickets(zendesk_server)
    assert set(got) == set(expected)
    assert all(got[i]["generated_timestamp"] == expected[i]["generated_timestamp"] for i in got)


def test_cursor_incremental_follows_after_url_across_pages(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    ids = create_some(zenpy, 5)
    zendesk_server.admin.advance(61)
    assert [t.id for t in zenpy.tickets.incremental(start_time=0, per_page=2)] == ids


def test_time_incremental_gets_exactly_the_servers_tickets(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    create_some(zenpy, 4)
    zendesk_server.admin.advance(61)
    got = [t.id for t in zenpy.tickets.incremental(start_time=0, paginate_by_time=True)]
    assert sorted(got) == sorted(server_tickets(zendesk_server))


def test_create_update_delete(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    created = zenpy.tickets.create(Ticket(subject="hello", description="first comment"))
    ticket = zenpy.tickets(id=created.ticket.id)
    ticket.status = "solved"
    updated = zenpy.tickets.update(ticket)
    assert updated.ticket.status == "solved"
    zenpy.tickets.delete(ticket)
    with pytest.raises(RecordNotFoundException):
        zenpy.tickets(id=ticket.id)
    zendesk_server.admin.advance(61)
    assert server_tickets(zendesk_server)[ticket.id]["status"] == "deleted"


def test_bulk_create_with_job_status_polling(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    job = zenpy.tickets.create([Ticket(subject=f"bulk {i}", description="d") for i in range(20)])
    assert job.status == "queued"
    done = wait_for_job(zenpy, job)
    ids = [r.id for r in done.results]
    assert len(ids) == 20
    assert [t.subject for t in zenpy.tickets(ids=ids)] == [f"bulk {i}" for i in range(20)]
    zendesk_server.admin.advance(61)
    assert {t.id for t in zenpy.tickets.incremental(start_time=0)} == set(ids) == set(server_tickets(zendesk_server))


def test_bulk_update_and_delete_with_polling(zenpy: Zenpy, zendesk_server: ZendeskServer) -> None:
    created = wait_for_job(zenpy, zenpy.tickets.create([Ticket(subject="x", description="d") for _ in range(3)]))
    tickets = list(zenpy.tickets(ids=[r.id for r in created.results]))
    for ticket in tickets:
        ticket.priority = "high"
    updated = wait_for_job(zenpy, zenpy.tickets.update(tickets))
    assert [r.status for r in updated.results] == ["Updated"] * 3
    deleted = wait_for_job(zenpy, zenpy.tickets.delete(tickets))
    assert all(r.success for r in deleted.results)
    zendesk_server.admin.advance(61)
    assert {t["status"] for t in server_tickets(zendesk_server).values()} == {"deleted"}


def test_more_than_100_tickets_raise_zenpys_too_many_values(zenpy: Zenpy) -> None:
    with pytest.raises(APIException) as raised:
        zenpy.tickets.create([Ticket(subject="x", description="d") for _ in range(101)])
    assert "TooManyValues" in str(raised.value)
