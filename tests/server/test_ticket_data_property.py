"""Property: whatever query a client sends to the ticket data and search endpoints — any page parameters,
times, scores, sort orders, search queries, garbage cursors — the answer is a page (200) or one of Zendesk's
errors (400, 404, 422) with a JSON body naming it; never a 500, never a non-JSON body. And a read never changes
what the account holds.

Runs against one seeded server (module-scoped), a bounded number of examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zendesk_export.testing import ZendeskServer

PATHS = ["/api/v2/tickets.json", "/api/v2/ticket_audits.json", "/api/v2/tickets/3/audits.json",
         "/api/v2/tickets/3/comments.json", "/api/v2/ticket_metrics.json", "/api/v2/satisfaction_ratings.json",
         "/api/v2/deleted_tickets.json", "/api/v2/job_statuses.json", "/api/v2/problems.json",
         "/api/v2/incremental/ticket_metric_events.json", "/api/v2/search.json", "/api/v2/search/count.json",
         "/api/v2/search/export.json"]
NAMES = ["page", "per_page", "page[size]", "page[after]", "page[before]", "start_time", "end_time", "score",
         "sort", "sort_by", "sort_order", "include", "query", "filter[type]"]
TERMS = st.sampled_from(["type:ticket", "type:user", "type:organization", "status:open", "status<solved",
                         "tags:vip", "created>2025-01-01", "updated<3days", "priority:high", "refund",
                         '"cannot log"', "organization:1", "ticket_type:task", "role:agent", "created:20x5"])
VALUES = st.one_of(st.integers(-5, 2000).map(str), st.sampled_from(["", "0", "-1", "abc", "9" * 30, "desc",
                   "asc", "created_at", "-deleted_at", "good", "metric_sets", "ticket", "user", "eyJvIjoiaWQifQ=="]),
                   st.text(max_size=12), st.lists(TERMS, min_size=1, max_size=3).map(" ".join))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZendeskServer]:
    started = ZendeskServer.start(Path(tmp_path_factory.mktemp("prop")) / "prop.db")
    try:
        started.admin.freeze(1_750_000_000)
        started.admin.seed(tickets=120, random_seed=2)
        yield started
    finally:
        started.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), params=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=5))
def test_any_query_gets_a_page_or_zendesks_error(server: ZendeskServer, path: str, params: dict[str, str]) -> None:
    before = server.admin.accounts()[0]["tickets"]
    with server.client() as client:
        response = client.get(path, params=params)
    assert response.status_code in (200, 400, 404, 422), (path, params, response.text[:300])
    body = response.json()
    if response.status_code != 200:
        assert isinstance(body.get("error"), str), body
    assert server.admin.accounts()[0]["tickets"] == before
