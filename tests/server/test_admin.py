"""The admin API: token required, reset keeps credentials, seed adds tickets, clock freezes and advances."""

from __future__ import annotations

import httpx
import pytest

from zendesk_export.testing import ZendeskServer


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic YWRtaW5AZXhhbXBsZS5jb20vdG9rZW46ZGVtby10b2tlbg=="}])
def test_admin_api_refuses_requests_without_the_admin_token(zendesk_server: ZendeskServer,
                                                             headers: dict[str, str]) -> None:
    response = httpx.post(zendesk_server.url + "/__admin/reset", headers=headers)
    assert response.status_code == 401


def test_seed_adds_tickets_that_export_at_once(zendesk_server: ZendeskServer) -> None:
    assert zendesk_server.admin.seed(tickets=120, random_seed=5)["tickets"] == 120
    with zendesk_server.client() as client:
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
    assert page["count"] == 120
    assert page["end_of_stream"] is True


def test_reset_empties_tickets_and_keeps_credentials(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=10)
    zendesk_server.admin.reset()
    with zendesk_server.client() as client:
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0})
    assert page.status_code == 200
    assert page.json()["tickets"] == []


def test_clock_freezes_advances_and_runs_again(zendesk_server: ZendeskServer) -> None:
    admin = zendesk_server.admin
    assert admin.freeze(1_500_000_000) == {"now": 1_500_000_000, "frozen": True}
    assert admin.advance(90) == {"now": 1_500_000_090, "frozen": True}
    running = admin.unfreeze()
    assert running["frozen"] is False and running["now"] >= 1_500_000_090
    assert admin.reset_clock()["now"] > 1_700_000_000


def test_frozen_clock_stamps_written_tickets(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(1_600_000_000)
    with zendesk_server.client() as client:
        ticket = client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "x"}}}).json()["ticket"]
    assert ticket["created_at"] == "2020-09-13T12:26:40Z"


@pytest.mark.parametrize("body", [{"advance": "soon"}, {"freeze_at": None}, {"rewind": 5}, {}])
def test_bad_clock_requests_get_400(zendesk_server: ZendeskServer, body: dict[str, object]) -> None:
    response = httpx.post(zendesk_server.url + "/__admin/clock", json=body,
                          headers={"Authorization": f"Bearer {zendesk_server.running.admin_token}"})
    assert response.status_code == 400


def test_unknown_account_in_admin_call_gets_404(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + "/__admin/reset", params={"account": "nosuch"},
                          headers={"Authorization": f"Bearer {zendesk_server.running.admin_token}"})
    assert response.status_code == 404
