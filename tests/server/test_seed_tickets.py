"""A seeded account hangs together on the ticket side: tickets carry their requester's organization, incidents
point at problems that know they have incidents, tasks are due after they open, emailed tickets name their
recipient, people joined before their tickets, and the history behind each ticket (audits, agent replies) is
what its metrics report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import parse_time

FROZEN_AT = 1_750_000_000


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = ZendeskServer.start(Path(tmp_path_factory.mktemp("seed")) / "seed.db")
    try:
        server.admin.freeze(FROZEN_AT)
        server.admin.seed(tickets=2000, random_seed=4)
        with server.client() as client:
            tickets, metric_sets = {}, {}
            body = client.get("/api/v2/incremental/tickets/cursor.json",
                              params={"start_time": 0, "include": "metric_sets"}).json()
            while True:
                tickets.update({t["id"]: t for t in body["tickets"]})
                metric_sets.update({t["id"]: t["metric_set"] for t in body["tickets"] if t["metric_set"]})
                if body["end_of_stream"]:
                    break
                body = client.get(body["after_url"]).json()
            users = client.get("/api/v2/incremental/users.json", params={"start_time": 0}).json()["users"]
        assert len(tickets) == 2000
        yield {"tickets": list(tickets.values()), "metric_sets": list(metric_sets.values()), "users": users}
    finally:
        server.stop()


def live(account: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in account["tickets"] if t["status"] != "deleted"]


def test_tickets_carry_their_requesters_organization(account: dict[str, Any]) -> None:
    organization_of = {u["id"]: u["organization_id"] for u in account["users"]}
    assert all(t["organization_id"] == organization_of[t["requester_id"]] for t in account["tickets"])
    assert sum(1 for t in account["tickets"] if t["organization_id"]) > len(account["tickets"]) // 2


def test_incidents_point_at_problems_that_have_incidents(account: dict[str, Any]) -> None:
    by_id = {t["id"]: t for t in account["tickets"]}
    incidents = [t for t in account["tickets"] if t["problem_id"] is not None]
    assert len(incidents) >= 20
    assert all(t["type"] == "incident" for t in incidents)
    assert all(by_id[t["problem_id"]]["type"] == "problem" and by_id[t["problem_id"]]["has_incidents"]
               for t in incidents)


def test_tasks_are_due_after_they_open(account: dict[str, Any]) -> None:
    tasks = [t for t in live(account) if t["type"] == "task"]
    assert tasks and all(t["due_at"] for t in tasks)
    assert all(0 < parse_time(t["due_at"]) - parse_time(t["created_at"]) <= 14 * 86_400 for t in tasks)
    assert all(t["due_at"] is None for t in account["tickets"] if t["type"] != "task")


def test_emailed_tickets_name_their_recipient(account: dict[str, Any]) -> None:
    for ticket in account["tickets"]:
        emailed = ticket["via"]["channel"] == "email"
        assert (ticket["recipient"] == "support@example.zendesk.com") is emailed


def test_people_joined_before_their_tickets_on_days_of_their_own(account: dict[str, Any]) -> None:
    joined = {u["id"]: parse_time(u["created_at"]) for u in account["users"]}
    assert len(set(joined.values())) > len(joined) // 2
    assert all(joined[t["requester_id"]] <= parse_time(t["created_at"]) for t in account["tickets"])


def test_metrics_follow_the_seeded_history(account: dict[str, Any]) -> None:
    """A ticket an agent took up later got a public reply then: one reply, its reply time the gap."""
    metrics = {m["ticket_id"]: m for m in account["metric_sets"]}
    taken_up = [t for t in live(account) if t["assignee_id"] and t["updated_at"] > t["created_at"]]
    assert taken_up
    for ticket in taken_up:
        metric = metrics[ticket["id"]]
        gap = (parse_time(ticket["updated_at"]) - parse_time(ticket["created_at"])) // 60
        assert (metric["replies"], metric["reply_time_in_minutes"]["calendar"]) == (1, gap)
        assert (metric["solved_at"] is not None) is (ticket["status"] in ("solved", "closed"))
