"""What is read from tickets and their history, end to end on a real server: the tickets list, audits and
comments, satisfaction ratings, deleted tickets (restore, delete for good) and the job statuses list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import parse_time

T0 = 1_750_000_000


def call(server: ZendeskServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with server.client() as client:
        return client.request(method, path, **kwargs)


def all_pages(server: ZendeskServer, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Follow `links.next` while `meta.has_more`, as a cursor client does."""
    items: list[dict[str, Any]] = []
    with server.client() as client:
        body = client.get(path, params={"page[size]": 7, **params}).json()
        items += body[key]
        while body["meta"]["has_more"]:
            body = client.get(body["links"]["next"]).json()
            items += body[key]
    return items


def create(server: ZendeskServer, **fields: Any) -> int:
    ticket = {"subject": "s", "comment": "first", **fields}
    response = call(server, "POST", "/api/v2/tickets.json", json={"ticket": ticket})
    assert response.status_code == 201
    return int(response.json()["ticket"]["id"])


def update(server: ZendeskServer, ticket_id: int, **fields: Any) -> None:
    assert call(server, "PUT", f"/api/v2/tickets/{ticket_id}.json", json={"ticket": fields}).status_code == 200


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.freeze(T0)
    zendesk_server.admin.seed(tickets=150, random_seed=3)
    return zendesk_server


def test_audits_and_comments_are_the_tickets_writes(zendesk_server: ZendeskServer) -> None:
    ticket_id = create(zendesk_server)
    update(zendesk_server, ticket_id, comment={"body": "internal", "public": False})
    update(zendesk_server, ticket_id, priority="high")
    audits = call(zendesk_server, "GET", f"/api/v2/tickets/{ticket_id}/audits.json").json()
    assert audits["count"] == 3 and audits["next_page"] is None
    assert [[e["type"] for e in a["events"]][0] for a in audits["audits"]] == ["Comment", "Comment", "Change"]
    comments = call(zendesk_server, "GET", f"/api/v2/tickets/{ticket_id}/comments.json").json()["comments"]
    assert [(c["body"], c["public"]) for c in comments] == [("first", True), ("internal", False)]
    assert [c["audit_id"] for c in comments] == [a["id"] for a in audits["audits"][:2]]


def test_ticket_audits_cursor_walks_every_audit_once_oldest_first(seeded: ZendeskServer) -> None:
    audits = all_pages(seeded, "/api/v2/ticket_audits.json", "audits")
    keys = [(a["created_at"], a["id"]) for a in audits]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    per_ticket = sum(call(seeded, "GET", f"/api/v2/tickets/{t}/audits.json").json()["count"] for t in (1, 2, 3))
    assert len([a for a in audits if a["ticket_id"] in (1, 2, 3)]) == per_ticket


def test_ticket_audits_refuse_a_page_larger_than_100(seeded: ZendeskServer) -> None:
    response = call(seeded, "GET", "/api/v2/ticket_audits.json", params={"page[size]": 101})
    assert (response.status_code, response.json()) == (400, {
        "error": "InvalidPaginationParameter", "description": "page[size] cannot be greater than 100"})


def test_unknown_or_deleted_tickets_have_no_audits_comments_or_metrics(zendesk_server: ZendeskServer) -> None:
    ticket_id = create(zendesk_server)
    assert call(zendesk_server, "DELETE", f"/api/v2/tickets/{ticket_id}.json").status_code == 204
    for path in ("audits", "comments", "metrics"):
        for missing in (ticket_id, 999_999):
            response = call(zendesk_server, "GET", f"/api/v2/tickets/{missing}/{path}.json")
            assert (response.status_code, response.json()["error"]) == (404, "RecordNotFound")


def test_tickets_list_pages_both_ways_without_deleted_tickets(seeded: ZendeskServer) -> None:
    exported = call(seeded, "GET", "/api/v2/incremental/tickets.json", params={"start_time": 0}).json()["tickets"]
    live = sorted(t["id"] for t in exported if t["status"] != "deleted")
    assert [t["id"] for t in all_pages(seeded, "/api/v2/tickets.json", "tickets")] == live
    offset = call(seeded, "GET", "/api/v2/tickets.json", params={"per_page": 100, "page": 2}).json()
    assert offset["count"] == len(live) and [t["id"] for t in offset["tickets"]] == live[100:200]
    assert offset["previous_page"].endswith("/api/v2/tickets.json?page=1&per_page=100")
    count = call(seeded, "GET", "/api/v2/tickets/count.json").json()["count"]
    assert count == {"value": len(live), "refreshed_at": "2025-06-15T15:06:40+00:00"}


def test_tickets_list_sideloads_one_metric_set_per_ticket(seeded: ZendeskServer) -> None:
    body = call(seeded, "GET", "/api/v2/tickets.json", params={"page[size]": 5, "include": "metric_sets"}).json()
    assert list(body) == ["tickets", "metric_sets", "meta", "links"]
    assert [m["ticket_id"] for m in body["metric_sets"]] == [t["id"] for t in body["tickets"]]


def test_time_export_keeps_metric_sets_top_level_and_cursor_export_puts_one_on_each_ticket(
        seeded: ZendeskServer) -> None:
    params = {"start_time": 0, "include": "metric_sets"}
    timed = call(seeded, "GET", "/api/v2/incremental/tickets.json", params=params).json()
    cursor = call(seeded, "GET", "/api/v2/incremental/tickets/cursor.json", params=params).json()
    assert "metric_sets" not in cursor and "metric_set" not in timed["tickets"][0]
    by_ticket = {m["ticket_id"]: m for m in timed["metric_sets"]}
    for ticket in cursor["tickets"]:
        expected = None if ticket["status"] == "deleted" else by_ticket[ticket["id"]]
        assert ticket["metric_set"] == expected


def test_ratings_are_the_ratings_tickets_show(seeded: ZendeskServer) -> None:
    ratings = all_pages(seeded, "/api/v2/satisfaction_ratings.json", "satisfaction_ratings")
    assert ratings, "the seed rates some solved tickets"
    exported = call(seeded, "GET", "/api/v2/incremental/tickets.json", params={"start_time": 0}).json()["tickets"]
    rated = {t["id"]: t["satisfaction_rating"] for t in exported if (t["satisfaction_rating"] or {}).get("id")}
    assert {r["ticket_id"]: (r["id"], r["score"], r["comment"]) for r in ratings} == {
        t: (r["id"], r["score"], r["comment"]) for t, r in rated.items()}
    shown = call(seeded, "GET", f"/api/v2/satisfaction_ratings/{ratings[0]['id']}.json").json()
    assert shown == {"satisfaction_rating": ratings[0]}


def test_ratings_filter_by_time_window_and_score(seeded: ZendeskServer) -> None:
    ratings = all_pages(seeded, "/api/v2/satisfaction_ratings.json", "satisfaction_ratings")
    times = sorted({r["created_at"] for r in ratings})
    middle = times[len(times) // 2]
    cut = parse_time(middle)
    later = all_pages(seeded, "/api/v2/satisfaction_ratings.json", "satisfaction_ratings", start_time=cut)
    earlier = all_pages(seeded, "/api/v2/satisfaction_ratings.json", "satisfaction_ratings", end_time=cut)
    assert all(r["created_at"] >= middle for r in later) and all(r["created_at"] < middle for r in earlier)
    assert len(later) + len(earlier) == len(ratings)
    good = all_pages(seeded, "/api/v2/satisfaction_ratings.json", "satisfaction_ratings", score="good")
    assert {r["id"] for r in good} == {r["id"] for r in ratings if r["score"] == "good"}
    bad = call(seeded, "GET", "/api/v2/satisfaction_ratings.json", params={"start_time": "yesterday"})
    assert (bad.status_code, bad.json()["error"]) == (400, "InvalidValue")


def test_a_deleted_ticket_is_listed_then_restored_with_its_status(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(T0)
    ticket_id = create(zendesk_server, subject="Gone for now")
    update(zendesk_server, ticket_id, status="pending")
    zendesk_server.admin.advance(100)
    call(zendesk_server, "DELETE", f"/api/v2/tickets/{ticket_id}.json")
    listed = call(zendesk_server, "GET", "/api/v2/deleted_tickets.json").json()
    assert listed["deleted_tickets"] == [{"id": ticket_id, "subject": "Gone for now", "description": "first",
                                          "deleted_at": "2025-06-15T15:08:20Z", "previous_state": "pending"}]
    zendesk_server.admin.advance(100)
    assert call(zendesk_server, "PUT", f"/api/v2/deleted_tickets/{ticket_id}/restore.json").status_code == 200
    shown = call(zendesk_server, "GET", f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]
    assert (shown["status"], shown["updated_at"]) == ("pending", "2025-06-15T15:10:00Z")
    assert call(zendesk_server, "GET", "/api/v2/deleted_tickets.json").json()["count"] == 0


def test_deleting_for_good_scrubs_the_ticket_and_leaves_a_job(zendesk_server: ZendeskServer) -> None:
    ticket_id = create(zendesk_server, subject="Secret")
    call(zendesk_server, "DELETE", f"/api/v2/tickets/{ticket_id}.json")
    job = call(zendesk_server, "DELETE", f"/api/v2/deleted_tickets/{ticket_id}.json").json()["job_status"]
    assert call(zendesk_server, "GET", "/api/v2/deleted_tickets.json").json()["deleted_tickets"] == []
    zendesk_server.admin.advance(61)
    exported = call(zendesk_server, "GET", "/api/v2/incremental/tickets.json", params={"start_time": 0}).json()
    assert [(t["id"], t["status"], t["subject"]) for t in exported["tickets"]] == [(ticket_id, "deleted", "SCRUBBED")]
    jobs = call(zendesk_server, "GET", "/api/v2/job_statuses.json").json()
    assert [j["id"] for j in jobs["job_statuses"]] == [job["id"]] and jobs["count"] == 1
    again = call(zendesk_server, "DELETE", f"/api/v2/deleted_tickets/{ticket_id}.json")
    assert (again.status_code, again.json()["error"]) == (404, "RecordNotFound")


def test_deleted_tickets_sort_by_deletion_time(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(T0)
    first, second = create(zendesk_server), create(zendesk_server)
    call(zendesk_server, "DELETE", f"/api/v2/tickets/{second}.json")
    zendesk_server.admin.advance(10)
    call(zendesk_server, "DELETE", f"/api/v2/tickets/{first}.json")
    by_id = call(zendesk_server, "GET", "/api/v2/deleted_tickets.json").json()["deleted_tickets"]
    by_time = call(zendesk_server, "GET", "/api/v2/deleted_tickets.json", params={"sort_by": "deleted_at"}).json()
    newest = call(zendesk_server, "GET", "/api/v2/deleted_tickets.json", params={"sort": "-deleted_at"}).json()
    assert [t["id"] for t in by_id] == [first, second]
    assert [t["id"] for t in by_time["deleted_tickets"]] == [second, first]
    assert [t["id"] for t in newest["deleted_tickets"]] == [first, second]


def test_a_deleted_ticket_whose_30_days_are_up_is_neither_listed_nor_restorable(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(T0)
    ticket_id = create(zendesk_server)
    call(zendesk_server, "DELETE", f"/api/v2/tickets/{ticket_id}.json")
    zendesk_server.admin.advance(30 * 86_400 + 1)
    assert call(zendesk_server, "GET", "/api/v2/deleted_tickets.json").json()["deleted_tickets"] == []
    restore = call(zendesk_server, "PUT", f"/api/v2/deleted_tickets/{ticket_id}/restore.json")
    assert (restore.status_code, restore.json()) == (404, {"error": "RecordNotFound", "description": "Not found"})


BIG = "9" * 25  # beyond 64 bits
BAD_INPUT = [
    ("GET", f"/api/v2/tickets/{BIG}/audits.json", {}, 404, "RecordNotFound"),
    ("GET", f"/api/v2/tickets/{BIG}/comments.json", {}, 404, "RecordNotFound"),
    ("GET", f"/api/v2/ticket_metrics/{BIG}.json", {}, 404, "RecordNotFound"),
    ("GET", f"/api/v2/satisfaction_ratings/{BIG}.json", {}, 404, "RecordNotFound"),
    ("PUT", f"/api/v2/deleted_tickets/{BIG}/restore.json", {}, 404, "RecordNotFound"),
    ("DELETE", f"/api/v2/deleted_tickets/{BIG}.json", {}, 404, "RecordNotFound"),
    ("DELETE", "/api/v2/deleted_tickets/destroy_many.json", {"ids": BIG}, 404, "RecordNotFound"),
    ("GET", "/api/v2/satisfaction_ratings.json", {"start_time": BIG}, 400, "InvalidValue"),
    ("GET", "/api/v2/satisfaction_ratings.json", {"score": "great"}, 400, "InvalidValue"),
    ("GET", "/api/v2/satisfaction_ratings.json", {"page[after]": "zzz"}, 400, "InvalidPaginationParameter"),
    ("GET", "/api/v2/ticket_metrics.json", {"page[size]": "0"}, 400, "InvalidPaginationParameter"),
    ("GET", "/api/v2/search.json", {"query": "a\x00b"}, 400, "InvalidValue"),
    ("GET", "/api/v2/search.json", {}, 400, "ParameterMissing"),
    ("GET", "/api/v2/search.json", {"query": "type:widget"}, 400, "InvalidValue"),
    ("GET", "/api/v2/search/export.json", {"query": "a", "filter[type]": "user", "page[after]":
     "eyJzb3J0VmFsdWVzIjpbOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTksMl19"}, 400, "InvalidPaginationParameter"),
    ("GET", "/api/v2/incremental/ticket_metric_events.json", {}, 400, "ParameterMissing"),
    ("GET", "/api/v2/incremental/ticket_metric_events.json", {"start_time": BIG}, 422, "InvalidValue"),
]


@pytest.mark.parametrize(("method", "path", "params", "status", "error"), BAD_INPUT,
                         ids=[f"{m} {p[:40]} {sorted(q)}" for m, p, q, _, _ in BAD_INPUT])
def test_bad_input_gets_zendesks_status_and_error(zendesk_server: ZendeskServer, method: str, path: str,
                                                  params: dict[str, Any], status: int, error: str) -> None:
    response = call(zendesk_server, method, path, params=params)
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_search_of_an_id_beyond_64_bits_finds_nothing(zendesk_server: ZendeskServer) -> None:
    body = call(zendesk_server, "GET", "/api/v2/search.json", params={"query": f"type:ticket organization:{BIG}"})
    assert (body.status_code, body.json()["count"]) == (200, 0)


def test_a_problems_incidents_and_the_problems_list(zendesk_server: ZendeskServer) -> None:
    problem = create(zendesk_server, type="problem", subject="Outage")
    incidents = [create(zendesk_server, type="incident", problem_id=problem) for _ in range(3)]
    create(zendesk_server, type="incident")
    listed = call(zendesk_server, "GET", f"/api/v2/tickets/{problem}/incidents.json").json()
    assert [t["id"] for t in listed["tickets"]] == incidents and listed["count"] == 3
    by_cursor = call(zendesk_server, "GET", f"/api/v2/tickets/{problem}/incidents.json", params={"page[size]": 2})
    assert [t["id"] for t in by_cursor.json()["tickets"]] == incidents[:2]
    problems = call(zendesk_server, "GET", "/api/v2/problems.json").json()
    assert [t["id"] for t in problems["tickets"]] == [problem]
