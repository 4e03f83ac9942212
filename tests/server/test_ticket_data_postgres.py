"""The ticket data endpoints on PostgreSQL answer byte for byte as on SQLite: lists in both paginations,
metrics, metric events, ratings, deleted tickets, search. Needs ``ZENDESK_EXPORT_TEST_POSTGRES``; skipped
otherwise (the ``pg_url`` fixture of ``test_store_postgres``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.server.test_store_postgres import pg_url  # noqa: F401  (a fixture)
from zendesk_export.testing import ZendeskServer

NOW = 1_750_000_000
READS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v2/tickets.json", {"per_page": 50, "page": 3}),
    ("/api/v2/tickets.json", {"page[size]": 30, "include": "metric_sets"}),
    ("/api/v2/tickets/7/audits.json", {}), ("/api/v2/tickets/7/comments.json", {"page[size]": 1}),
    ("/api/v2/ticket_audits.json", {"page[size]": 100}),
    ("/api/v2/ticket_metrics.json", {"page[size]": 50}), ("/api/v2/ticket_metrics.json", {"page": 2}),
    ("/api/v2/incremental/ticket_metric_events.json", {"start_time": 0, "per_page": 200}),
    ("/api/v2/incremental/ticket_metric_events.json", {"start_time": 0, "page[size]": 100}),
    ("/api/v2/satisfaction_ratings.json", {"start_time": NOW - 90 * 86_400}),
    ("/api/v2/deleted_tickets.json", {"sort_by": "deleted_at", "sort_order": "desc"}),
    ("/api/v2/deleted_tickets.json", {"page[size]": 5}),
    ("/api/v2/search.json", {"query": "type:ticket status<solved tags:vip updated>30days", "per_page": 20}),
    ("/api/v2/search.json", {"query": "customer 1"}),
    ("/api/v2/search/export.json", {"query": "created<2025-05-01", "filter[type]": "ticket", "page[size]": 40}),
    ("/api/v2/search/count.json", {"query": "type:user role:end-user"}),
]


def session(server: ZendeskServer) -> list[tuple[int, bytes]]:
    server.admin.freeze(NOW)
    server.admin.seed(tickets=800, random_seed=12)
    answers = []
    with server.client() as client:
        for path, params in READS:
            response = client.get(path, params=params)
            answers.append((response.status_code, response.content.replace(server.url.encode(), b"HOST")))
            meta = response.json().get("meta") or {}
            if meta.get("has_more"):  # the second page, reached by the first page's own link
                following = client.get(response.json()["links"]["next"])
                answers.append((following.status_code, following.content.replace(server.url.encode(), b"HOST")))
    return answers


def test_postgres_answers_the_ticket_data_as_sqlite_does(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    answers = []
    for db in (str(tmp_path / "reference.db"), pg_url):
        server = ZendeskServer.start(db)
        try:
            answers.append(session(server))
        finally:
            server.stop()
    reference, postgres = answers
    assert {status for status, _ in reference} == {200} and len(reference) > len(READS)
    for number, (expected, got) in enumerate(zip(reference, postgres, strict=True)):
        assert got == expected, f"answer {number}"
