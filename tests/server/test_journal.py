"""The request journal: what clients sent, redacted, with status and fault, newest last, bounded."""

from __future__ import annotations

import base64

import httpx
import pytest

from zendesk_export.server.edge.journal import Journal, redact
from zendesk_export.testing import ZendeskServer


def test_journal_lists_client_requests_newest_last(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(1_700_000_000)
    with zendesk_server.client(headers={"User-Agent": "my-exporter/1.0"}) as http:
        http.get("/api/v2/incremental/tickets.json", params={"start_time": 0, "per_page": 2})
        http.get("/api/v2/tickets/99.json")
    first, second = zendesk_server.admin.requests()
    assert first["id"] < second["id"]
    assert {k: first[k] for k in ("method", "path", "query", "status", "authorization", "user_agent", "time")} == {
        "method": "GET", "path": "/api/v2/incremental/tickets.json", "query": "start_time=0&per_page=2",
        "status": 200, "authorization": "Basic admin@example.com/token:***", "user_agent": "my-exporter/1.0",
        "time": 1_700_000_000}
    assert (second["path"], second["status"], second["fault"]) == ("/api/v2/tickets/99.json", 404, None)
    assert first["duration_ms"] >= 0 and first["host"] == zendesk_server.url.removeprefix("http://")


def test_journal_never_contains_a_secret(zendesk_server: ZendeskServer) -> None:
    httpx.get(zendesk_server.url + "/api/v2/tickets/1.json", auth=(zendesk_server.email, zendesk_server.password))
    httpx.get(zendesk_server.url + "/api/v2/tickets/1.json",
              headers={"Authorization": f"Bearer {zendesk_server.oauth_token}"})
    text = str(zendesk_server.admin.requests())
    for secret in (zendesk_server.password, zendesk_server.oauth_token, zendesk_server.token):
        assert secret not in text
    assert [e["authorization"] for e in zendesk_server.admin.requests()] == [
        "Basic admin@example.com:***", "Bearer ***"]


def test_journal_records_the_fault_applied(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.set_faults([{"action": {"status": 503}, "times": 1}])
    httpx.get(zendesk_server.url + "/api/v2/tickets/1.json")
    entry = zendesk_server.admin.requests()[-1]
    assert entry["status"] == 503 and entry["authorization"] is None
    assert entry["fault"] == {"rule": 0, "kind": "status", "status": 503, "latency_ms": 0.0}


def test_admin_calls_are_not_journalled_and_delete_empties_it(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.clock()
    httpx.get(zendesk_server.url + "/api/v2/tickets/1.json")
    assert [e["path"] for e in zendesk_server.admin.requests()] == ["/api/v2/tickets/1.json"]
    zendesk_server.admin.clear_requests()
    assert zendesk_server.admin.requests() == []


def test_journal_keeps_only_the_newest_entries() -> None:
    journal = Journal(capacity=3)
    for n in range(5):
        journal.record({"path": f"/{n}"})
    assert [(e["id"], e["path"]) for e in journal.entries()] == [(3, "/2"), (4, "/3"), (5, "/4")]


def _basic(login: str) -> str:
    return "Basic " + base64.b64encode(login.encode()).decode()


@pytest.mark.parametrize("header, shown", [
    (None, None),
    (_basic("a@b.c/token:s3cret"), "Basic a@b.c/token:***"),
    (_basic("a@b.c:pass:word"), "Basic a@b.c:***"),
    ("Basic !!!not-base64", "Basic ***"),
    ("Bearer abc.def", "Bearer ***"),
    ("Token xyz", "Token ***"),
    (_basic("s3cret-api-token"), "Basic ***"),  # a colon-less Basic value may be the secret alone
    ("s3cret-api-token", "***"),  # no scheme: the value is the secret
    ("s3cret-api-token and-more", "***"),  # not a known scheme: nothing of it is shown
    ("Bearer", "***"),
])
def test_authorization_is_redacted_to_its_login(header: str | None, shown: str | None) -> None:
    assert redact(header) == shown


@pytest.mark.parametrize("header", [_basic("s3cret-api-token"), "s3cret-api-token", "s3cret-api-token x"])
def test_journal_keeps_no_secret_of_a_malformed_authorization(zendesk_server: ZendeskServer, header: str) -> None:
    httpx.get(zendesk_server.url + "/api/v2/tickets/1.json", headers={"Authorization": header})
    assert "s3cret" not in str(zendesk_server.admin.requests())
