"""Contract tests of the ticket data endpoints against recorded Zendesk responses (tests/recordings/more/): the
same envelope keys in the same order, the same item keys and JSON types. Projections (estuary) kept only some
fields of each item: for those, the recorded keys must be among ours, with the same types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference import load_reference
from tests.shapes import shape_errors
from zendesk_export.testing import ZendeskServer

FROZEN_AT = 1_750_000_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZendeskServer]:
    server = ZendeskServer.start(Path(tmp_path_factory.mktemp("ticketdata")) / "contract.db")
    try:
        server.admin.freeze(FROZEN_AT)
        server.admin.seed(tickets=400, random_seed=11)
        yield server
    finally:
        server.stop()


def get(server: ZendeskServer, path: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params)


def recorded(name: str) -> Any:
    return load_reference(f"more/{name}")


def projected(ours: Any, real: Any, path: str = "$") -> None:
    """Every recorded key is ours too, with the same JSON type (a projection dropped the rest)."""
    if ours is None or real is None:
        return
    if isinstance(real, dict):
        assert isinstance(ours, dict), path
        assert set(real) <= set(ours), f"{path}: {sorted(set(real) - set(ours))} missing"
        for key in real:
            projected(ours[key], real[key], f"{path}.{key}")
    elif isinstance(real, list):
        if ours and real:
            projected(ours[0], real[0], f"{path}[0]")
    else:
        assert type(ours) is type(real), f"{path}: {ours!r} vs {real!r}"


@pytest.mark.parametrize(("recording", "path", "params"), [
    ("ticket_audits.cursor-size1.zenpy.json", "/api/v2/ticket_audits.json", {"page[size]": 1}),
    ("ticket_audits.per-ticket-offset.rbclient-2015.json", "/api/v2/tickets/1/audits.json", {"per_page": 1}),
    ("ticket_comments.cursor.zenpy.json", "/api/v2/tickets/1/comments.json", {"page[size]": 100}),
    ("ticket_metrics.offset.rbclient-2015.json", "/api/v2/ticket_metrics.json", {}),
    ("satisfaction_ratings.offset.rbclient-2015.json", "/api/v2/satisfaction_ratings.json", {}),
    ("tickets.cursor-size1.zenpy.json", "/api/v2/tickets.json", {"page[size]": 1}),
    ("tickets.offset.zenpy.json", "/api/v2/tickets.json", {}),
    ("search_export.users-size1-page1.zenpy.json", "/api/v2/search/export.json",
     {"query": "created_at>=2020-01-01T00:00:00Z", "filter[type]": "user", "page[size]": 1}),
    ("search.count.gozendesk.json", "/api/v2/search/count.json", {"query": "type:ticket"}),
    ("tickets.count.estuary.json", "/api/v2/tickets/count.json", {}),
])
def test_pages_have_the_recorded_shape(seeded: ZendeskServer, recording: str, path: str,
                                       params: dict[str, Any]) -> None:
    """Real recordings: keys and types, envelope and items (audit events compared by their first); 2015
    recordings had other key orders."""
    real, ours = recorded(recording), get(seeded, path, **params).json()
    key = next(iter(real))
    if isinstance(real[key], list) and real[key]:
        assert ours[key], f"{path} answered no {key}"
        same_item(ours[key][0], real[key][0], ordered="2015" not in recording)
        real, ours = {**real, key: []}, {**ours, key: []}
    same_shape(ours, real, ordered="2015" not in recording)



def same_shape(ours: Any, real: Any, ordered: bool = True) -> None:
    """The strict shape comparison (tests/shapes.py: every key in order, every list element, every type), except
    where a value stands against a null or an empty list: these recordings come from a handful of sample tickets,
    and which metrics, links and fields are set depends on each ticket's own history, not on the endpoint."""
    errors = [e for e in shape_errors(ours, real, ordered=ordered)
              if "(None)" not in e and "Zendesk's is empty" not in e]
    assert not errors, f"{len(errors)} difference(s) from the recorded shape:\n  " + "\n  ".join(errors)

# Parts whose shape depends on the data, not the endpoint: custom user fields, attachments, where a write came
# from (a sample ticket's audit has empty `metadata.system`), and the 2024 key of metric sets.
_DATA_DEPENDENT = ("user_fields", "attachments", "metadata", "via", "custom_status_updated_at")


def same_item(ours: dict[str, Any], real: dict[str, Any], ordered: bool) -> None:
    """One list item: same keys (in order, for today's recordings); data-dependent parts not compared."""
    assert list(ours) == list(real) if ordered else set(ours) - {"custom_status_updated_at"} == set(real)
    ours, real = dict(ours), dict(real)
    for name in _DATA_DEPENDENT + (() if ordered else ("events",)):  # 2015 comments had no plain_body yet
        real.pop(name, None)
        ours.pop(name, None)
    same_shape(ours, real, ordered=ordered)


@pytest.mark.parametrize(("recording", "path"), [
    ("ticket_metric.show.rbclient-2015.json", "/api/v2/tickets/1/metrics.json"),
    ("satisfaction_rating.show.rbclient-2015.json", "/api/v2/satisfaction_ratings/{rating}.json"),
])
def test_single_objects_have_the_recorded_shape(seeded: ZendeskServer, recording: str, path: str) -> None:
    """2015 shows: ratings identical; a metric set adds only the 2024 `custom_status_updated_at`."""
    rating = get(seeded, "/api/v2/satisfaction_ratings.json").json()["satisfaction_ratings"][0]["id"]
    ours, real = get(seeded, path.format(rating=rating)).json(), recorded(recording)
    key = next(iter(real))
    ours[key].pop("custom_status_updated_at", None)
    same_shape(ours, real, ordered="2015" not in recording)


@pytest.mark.parametrize(("recording", "path", "params"), [
    ("incremental_ticket_metric_events.time-based.estuary.json", "/api/v2/incremental/ticket_metric_events.json",
     {"start_time": 0}),
    ("deleted_tickets.cursor-one.estuary.json", "/api/v2/deleted_tickets.json", {"page[size]": 1}),
    ("deleted_tickets.offset-sort_by.estuary.json", "/api/v2/deleted_tickets.json", {"sort_by": "deleted_at"}),
    ("tickets.cursor-include-metric_sets.estuary.json", "/api/v2/tickets.json",
     {"page[size]": 2, "include": "metric_sets"}),
    ("search_export.tickets-narrow-window.estuary.json", "/api/v2/search/export.json",
     {"query": "created>2020-01-01", "filter[type]": "ticket", "page[size]": 1}),
])
def test_projections_are_subsets_of_our_pages(seeded: ZendeskServer, recording: str, path: str,
                                              params: dict[str, Any]) -> None:
    """Estuary's hand-copied live responses: what they kept, we have, with the same types."""
    real, ours = recorded(recording), get(seeded, path, **params).json()
    key = next(iter(real))
    assert ours[key], f"{path} answered no {key}"
    projected(ours, real)


def test_metric_event_items_have_the_recorded_keys(seeded: ZendeskServer) -> None:
    """Per-ticket grouped events (estuary, complete items): id, ticket_id, metric, instance_id, type, time,
    deleted, and `status` on update_status events."""
    real = recorded("ticket_metric_events.per-ticket-grouped.estuary.json")
    ours = get(seeded, "/api/v2/incremental/ticket_metric_events.json", start_time=0).json()["ticket_metric_events"]
    measure = next(e for e in ours if e["type"] == "measure")
    same_shape(measure, real["resolution_time"][0])
    update = next(e for e in ours if e["type"] == "update_status")
    real_update = next(e for e in real["reply_time"] if e["type"] == "update_status")
    assert list(update) == ["id", "ticket_id", "metric", "instance_id", "type", "time", "deleted", "status"]
    same_shape({k: update[k] for k in real_update}, real_update, ordered=False)


def test_permanent_delete_answers_a_queued_job_and_a_later_restore_is_not_found(seeded: ZendeskServer) -> None:
    deleted = get(seeded, "/api/v2/deleted_tickets.json").json()["deleted_tickets"][0]["id"]
    with seeded.client() as client:
        job = client.delete(f"/api/v2/deleted_tickets/{deleted}.json")
        restore = client.put(f"/api/v2/deleted_tickets/{deleted}/restore.json")
    assert job.status_code == 200
    same_shape(job.json(), recorded("deleted_ticket.permanent-delete-job.zenpy.json"))
    assert job.json()["job_status"]["status"] == "queued"
    assert (restore.status_code, restore.json()) == (404, recorded("deleted_ticket.restore-404.zenpy.json"))


def test_search_results_are_tickets_with_their_result_type(seeded: ZendeskServer) -> None:
    """2017 search.json page: the envelope (`results, facets, next_page, previous_page, count`) and a
    `result_type` after the ticket's own keys (today's ticket keys: those of the tickets list)."""
    real = recorded("search.tickets-page1.zenpy-2017.json")
    ours = get(seeded, "/api/v2/search.json", query='type:"ticket"').json()
    assert list(ours) == list(real)
    ticket_keys = list(recorded("tickets.offset.zenpy.json")["tickets"][0])
    assert list(ours["results"][0]) == [*ticket_keys, "result_type"]
    assert ours["next_page"].endswith("/api/v2/search.json?page=2&query=type%3A%22ticket%22")
