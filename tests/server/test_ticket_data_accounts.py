"""Ticket data is the account's own: a second account on the same server sees none of the first one's tickets,
audits, metrics, metric events, ratings, deleted tickets, jobs or search results, and every link of a page
reached through an account's base URL leads back into that account."""

from __future__ import annotations

from typing import Any

import pytest

from zendesk_export.testing import ZendeskAccount

LISTS = [
    ("/api/v2/tickets.json", {"page[size]": 2}, "tickets"),
    ("/api/v2/ticket_audits.json", {"page[size]": 2}, "audits"),
    ("/api/v2/ticket_metrics.json", {"page[size]": 2}, "ticket_metrics"),
    ("/api/v2/incremental/ticket_metric_events.json", {"start_time": 0, "page[size]": 2}, "ticket_metric_events"),
    ("/api/v2/satisfaction_ratings.json", {"page[size]": 2}, "satisfaction_ratings"),
    ("/api/v2/deleted_tickets.json", {"page[size]": 2}, "deleted_tickets"),
    ("/api/v2/search/export.json", {"query": "created>2000-01-01", "filter[type]": "ticket", "page[size]": 2},
     "results"),
]


@pytest.fixture
def seeded(zendesk_account: ZendeskAccount) -> ZendeskAccount:
    zendesk_account.admin.seed(tickets=200, random_seed=6)
    zendesk_account.admin.advance(61)
    return zendesk_account


@pytest.mark.parametrize(("path", "params", "key"), LISTS, ids=[p for p, _, _ in LISTS])
def test_another_account_sees_nothing_and_links_stay_in_the_account(seeded: ZendeskAccount, path: str,
                                                                    params: dict[str, Any], key: str) -> None:
    other = ZendeskAccount.create(seeded.server_admin)
    try:
        with other.client() as client:
            assert client.get(path, params=params).json()[key] == []
    finally:
        other.delete()
    with seeded.client() as client:
        first = client.get(path, params=params).json()
        assert first[key] and first["meta"]["has_more"]
        following = first["links"]["next"]
        assert following.startswith(seeded.url + "/api/v2/")
        assert client.get(following).json()[key]


def test_search_and_counts_are_the_accounts_own(seeded: ZendeskAccount) -> None:
    other = ZendeskAccount.create(seeded.server_admin)
    try:
        with other.client() as client:
            assert client.get("/api/v2/search/count.json", params={"query": "type:ticket"}).json() == {"count": 0}
            assert client.get("/api/v2/tickets/count.json").json()["count"]["value"] == 0
            assert client.get("/api/v2/tickets/1/metrics.json").status_code == 404
    finally:
        other.delete()
    with seeded.client() as client:
        assert client.get("/api/v2/search/count.json", params={"query": "type:ticket"}).json()["count"] > 0
