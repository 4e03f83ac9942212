"""The ticket data endpoints' responses conform to Zendesk's own OpenAPI document (the document, its loader and
its patches are those of ``test_resources_oas``; the patches below correct the document where the ticket data
operations meet its errors, each with its reason)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference import load_reference
from tests.server import test_resources_oas
from tests.server.test_resources_oas import assert_conforms
from zendesk_export.server.resources.operations import OPERATIONS
from zendesk_export.testing import ZendeskServer

NULLABLE = {"nullable": True}
OBJECT_OF = {"TicketMetricsByTicketMetricIdResponse": ("ticket_metric", "TicketMetricObject"),
             "SatisfactionRatingResponse": ("satisfaction_rating", "SatisfactionRatingObject")}


@dataclass(frozen=True)
class Fix:
    """One correction of the document: ``schema``'s property ``prop`` becomes ``change``d, because the real
    response in ``recording`` shows what the document refuses (``shows`` finds it there)."""

    schema: str
    prop: str
    change: dict[str, Any]
    recording: str
    shows: Callable[[Any], bool]


def has_null(key: str, prop: str) -> Callable[[Any], bool]:
    def shows(body: Any) -> bool:
        items = body[key] if isinstance(body[key], list) else [body[key]]
        return any(item.get(prop, "absent") is None for item in items)

    return shows


TICKET_NULLS = ("assignee_id", "due_at", "external_id", "forum_topic_id", "group_id", "organization_id", "priority",
                "problem_id", "recipient", "satisfaction_rating", "type")
FIXES = [
    # The document forgets `nullable` where real tickets hold null.
    *(Fix("TicketObject", p, NULLABLE, "tickets.offset.zenpy.json", has_null("tickets", p)) for p in TICKET_NULLS),
    # A custom field's value is null when unset (recorded), and by Zendesk's own field types a boolean
    # (checkbox) or a list (multiselect), not only the string the document allows.
    Fix("TicketObject", "custom_fields", {"items": {"type": "object"}}, "search.tickets-filter-type.zenpy-2018.json",
        lambda body: any(f["value"] is None for t in body["results"] for f in t["custom_fields"])),
    # Metric times are null until they happen; so are the metric set's dates.
    *(Fix("TicketMetricTimeObject", p, NULLABLE, "ticket_metric.show.rbclient-2015.json",
          lambda body, p=p: body["ticket_metric"]["first_resolution_time_in_minutes"][p] is None)
      for p in ("calendar", "business")),
    *(Fix("TicketMetricObject", p, NULLABLE, "ticket_metric.show.rbclient-2015.json", has_null("ticket_metric", p))
      for p in ("assignee_updated_at", "initially_assigned_at", "assigned_at", "solved_at")),
    *(Fix("SatisfactionRatingObject", p, NULLABLE, "satisfaction_ratings.offset.rbclient-2015.json",
          has_null("satisfaction_ratings", p)) for p in ("comment",)),
    *(Fix("SatisfactionRatingObject", p, NULLABLE, "records.d3v-airbyte-2024.airbyte.json",
          has_null("satisfaction_ratings", p)) for p in ("assignee_id", "group_id")),
    # One metric set and one rating are objects, not the arrays the document shows.
    Fix("TicketMetricsByTicketMetricIdResponse", "ticket_metric", {}, "ticket_metric.show.rbclient-2015.json",
        lambda body: isinstance(body["ticket_metric"], dict)),
    Fix("SatisfactionRatingResponse", "satisfaction_rating", {}, "satisfaction_rating.show.rbclient-2015.json",
        lambda body: isinstance(body["satisfaction_rating"], dict)),
]


@pytest.mark.parametrize("fix", FIXES, ids=[f"{f.schema}.{f.prop}" for f in FIXES])
def test_every_fix_is_what_zendesk_really_sends(fix: Fix) -> None:
    """A fix is only kept while a real response shows what the document refuses."""
    assert fix.shows(load_reference(f"more/{fix.recording}"))


def fixed_document() -> dict[str, Any]:
    document = copy.deepcopy(test_resources_oas.document())
    schemas = document["components"]["schemas"]
    for fix in FIXES:
        if fix.schema in OBJECT_OF:
            schemas[fix.schema]["properties"][fix.prop] = {"$ref": f"#/components/schemas/{OBJECT_OF[fix.schema][1]}"}
        else:
            schemas[fix.schema]["properties"][fix.prop].update(fix.change)
    return document


@pytest.fixture(scope="module", autouse=True)
def with_fixes() -> Iterator[None]:
    """The resource tests' document, with the fixes above, while this module runs."""
    document = fixed_document()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_resources_oas, "document", lambda: document)
        yield


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZendeskServer]:
    server = ZendeskServer.start(Path(tmp_path_factory.mktemp("oas")) / "oas.db")
    try:
        server.admin.freeze(1_750_000_000)
        server.admin.seed(tickets=300, random_seed=8)
        yield server
    finally:
        server.stop()


def request(server: ZendeskServer, method: str, path: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.request(method.upper(), path, params=params)


READS = [
    ("/api/v2/tickets", {}), ("/api/v2/tickets", {"page[size]": 5}),
    ("/api/v2/tickets", {"page[size]": 5, "include": "metric_sets"}),
    ("/api/v2/tickets/3/audits", {}), ("/api/v2/tickets/3/audits", {"page[size]": 2}),
    ("/api/v2/ticket_audits", {"page[size]": 20}),
    ("/api/v2/tickets/3/comments", {}), ("/api/v2/tickets/3/comments", {"page[size]": 2}),
    ("/api/v2/ticket_metrics", {}), ("/api/v2/ticket_metrics", {"page[size]": 10}),
    ("/api/v2/ticket_metrics/3", {}),
    ("/api/v2/incremental/ticket_metric_events", {"start_time": 0, "per_page": 50}),
    ("/api/v2/satisfaction_ratings", {}), ("/api/v2/satisfaction_ratings", {"page[size]": 10}),
    ("/api/v2/deleted_tickets", {}), ("/api/v2/deleted_tickets", {"page[size]": 10}),
    ("/api/v2/job_statuses", {}),
    ("/api/v2/search", {"query": "type:ticket status:open"}), ("/api/v2/search", {"query": "customer"}),
    ("/api/v2/search/count", {"query": "type:ticket"}), ("/api/v2/tickets/count", {}),
    ("/api/v2/search/export", {"query": "created>2020-01-01", "filter[type]": "ticket", "page[size]": 10}),
    ("/api/v2/search/export", {"query": "customer", "filter[type]": "user", "page[size]": 10}),
]


@pytest.mark.parametrize(("path", "params"), READS, ids=[f"{p} {sorted(q)}" for p, q in READS])
def test_reads_conform(seeded: ZendeskServer, path: str, params: dict[str, Any]) -> None:
    response = request(seeded, "get", path, **params)
    assert response.status_code == 200, response.text
    assert_conforms(response, "get", path)


def test_a_tickets_metrics_conform_as_the_metric_set_they_are(seeded: ZendeskServer) -> None:
    """`/tickets/{id}/metrics` is not in the document: it answers what `/ticket_metrics/{id}` does."""
    assert_conforms(request(seeded, "get", "/api/v2/tickets/3/metrics"), "get", "/api/v2/ticket_metrics/3")


def test_a_rating_conforms(seeded: ZendeskServer) -> None:
    rating = request(seeded, "get", "/api/v2/satisfaction_ratings").json()["satisfaction_ratings"][0]["id"]
    path = f"/api/v2/satisfaction_ratings/{rating}"
    assert_conforms(request(seeded, "get", path), "get", path)


def test_deleting_for_good_conforms(seeded: ZendeskServer) -> None:
    deleted = request(seeded, "get", "/api/v2/deleted_tickets").json()["deleted_tickets"][0]["id"]
    path = f"/api/v2/deleted_tickets/{deleted}"
    assert_conforms(request(seeded, "delete", path), "delete", path)


def test_problems_and_a_problems_incidents_conform(seeded: ZendeskServer) -> None:
    problems = request(seeded, "get", "/api/v2/problems")
    assert_conforms(problems, "get", "/api/v2/problems")
    problem = next(t["id"] for t in problems.json()["tickets"] if t["has_incidents"])
    path = f"/api/v2/tickets/{problem}/incidents"
    incidents = request(seeded, "get", path)
    assert incidents.json()["tickets"]
    assert_conforms(incidents, "get", path)


SCOPED = ("/api/v2/organizations/{}/tickets", "/api/v2/users/{}/tickets/requested")


@pytest.mark.parametrize("params", [{}, {"page[size]": 3}], ids=["offset", "cursor"])
@pytest.mark.parametrize("scoped", SCOPED)
def test_scoped_ticket_lists_conform_as_the_tickets_list(seeded: ZendeskServer, scoped: str,
                                                         params: dict[str, Any]) -> None:
    """Zendesk's document folds these into `GET /api/v2/tickets`: their answer is that list's."""
    ticket = next(t for t in request(seeded, "get", "/api/v2/tickets").json()["tickets"] if t["organization_id"])
    parent = ticket["organization_id"] if "organizations" in scoped else ticket["requester_id"]
    response = request(seeded, "get", scoped.format(parent), **params)
    assert response.status_code == 200 and response.json()["tickets"]
    assert_conforms(response, "get", "/api/v2/tickets")


def test_every_declared_read_is_held_to_zendesks_document() -> None:
    """Each GET of ``resources.operations`` (what /api/v2/openapi.json lists for these handlers) is among the
    reads above or the single tests after them, so none escapes the conformance check."""
    covered = {path for path, _ in READS} | {"/api/v2/tickets/3/metrics", "/api/v2/problems",
                                               "/api/v2/satisfaction_ratings/1", "/api/v2/tickets/1/incidents"} | {
        scoped.format(1) for scoped in SCOPED}
    for declared in OPERATIONS:
        if declared.method == "GET":
            pattern = re.sub(r"\\\{[a-z_]+\\\}", "[0-9]+", re.escape(declared.document_path))
            assert any(re.fullmatch(pattern, path) for path in covered), declared.document_path
