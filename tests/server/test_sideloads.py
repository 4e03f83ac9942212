"""Sideloads on the ticket exports: arrays of what the page references, batched per page (reference §1.1, §2.3)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from zendesk_export.server.export.sideloads import wanted_columns
from zendesk_export.testing import ZendeskServer

PATHS = ["/api/v2/incremental/tickets.json", "/api/v2/incremental/tickets/cursor.json"]


def export(server: ZendeskServer, path: str, **params: Any) -> Any:
    with server.client() as client:
        return client.get(path, params={"start_time": 0, **params})


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=40, random_seed=7)
    return zendesk_server


@pytest.mark.parametrize("path", PATHS)
def test_users_groups_organizations_are_the_records_the_page_refers_to(seeded: ZendeskServer, path: str) -> None:
    body = export(seeded, path, include="users,groups,organizations").json()
    tickets = body["tickets"]
    referenced_users = {t[k] for t in tickets for k in ("requester_id", "submitter_id", "assignee_id") if t[k]}
    referenced_users |= {i for t in tickets for i in t["collaborator_ids"]}
    assert {u["id"] for u in body["users"]} == referenced_users
    assert {g["id"] for g in body["groups"]} == {t["group_id"] for t in tickets if t["group_id"]}
    assert {o["id"] for o in body["organizations"]} == {t["organization_id"] for t in tickets if t["organization_id"]}
    assert list(body)[:4] == ["tickets", "users", "groups", "organizations"]


def test_organizations_follow_the_ticket_requesters_org(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        org = client.post("/api/v2/organizations.json", json={"organization": {"name": "Acme"}}).json()
        user = client.post("/api/v2/users.json", json={"user": {"name": "U", "organization_id": org[
            "organization"]["id"]}}).json()["user"]
        client.post("/api/v2/tickets.json", json={"ticket": {"comment": "x", "requester_id": user["id"]}})
    zendesk_server.admin.advance(61)
    body = export(zendesk_server, PATHS[0], include="organizations").json()
    assert [o["name"] for o in body["organizations"]] == ["Acme"]


def test_brands_forms_statuses_metric_sets(seeded: ZendeskServer) -> None:
    body = export(seeded, PATHS[0], include="brands,ticket_forms,custom_statuses,metric_sets,sharing_agreements").json()
    assert [b["id"] for b in body["brands"]] == [1] and [f["id"] for f in body["ticket_forms"]] == [1]
    assert {s["id"] for s in body["custom_statuses"]} == {t["custom_status_id"] for t in body["tickets"]}
    assert sorted(m["ticket_id"] for m in body["metric_sets"]) == sorted(t["id"] for t in body["tickets"])
    assert body["sharing_agreements"] == []


def test_comment_count_and_dates_are_ticket_properties(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ticket_id = client.post("/api/v2/tickets.json", json={"ticket": {"comment": "one"}}).json()["ticket"]["id"]
        client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"comment": "two"}})
        client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": "open"}})
    zendesk_server.admin.advance(61)
    body = export(zendesk_server, PATHS[1], include="comment_count,dates").json()
    ticket = body["tickets"][0]
    assert ticket["comment_count"] == 2 and "status_updated_at" in ticket["dates"]
    assert list(body) == ["tickets", "after_url", "before_url", "after_cursor", "before_cursor", "end_of_stream"]


@pytest.mark.parametrize("path", PATHS)
def test_last_audits_is_refused_with_400(seeded: ZendeskServer, path: str) -> None:
    response = export(seeded, path, include="users,last_audits")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidValue" and "last_audits" in response.json()["description"]


def test_unknown_names_are_ignored(seeded: ZendeskServer) -> None:
    plain, unknown = export(seeded, PATHS[0]).json(), export(seeded, PATHS[0], include="metrics,nonsense").json()
    assert unknown.pop("next_page").endswith("include=metrics%2Cnonsense&start_time=" + str(plain["end_time"]))
    assert unknown == {k: v for k, v in plain.items() if k != "next_page"}


def test_sideloads_are_carried_into_next_page(seeded: ZendeskServer) -> None:
    body = export(seeded, PATHS[0], include="users", per_page=5).json()
    assert "include=users" in body["next_page"]


def test_one_query_per_sideload_whatever_the_page_size(seeded: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """40 tickets referencing dozens of users and groups: still one records query per sideload."""
    store = seeded.running.store
    calls: list[str] = []
    original = store.record_rows

    def counting(account_id: int, table: str, ids: Any) -> Any:
        calls.append(table)
        return original(account_id, table, ids)

    monkeypatch.setattr(store, "record_rows", counting)
    body = export(seeded, PATHS[0], include="users,groups,organizations").json()
    assert len(body["tickets"]) == 40 and len(body["users"]) > 3
    assert sorted(calls) == ["groups", "organizations", "users"]


@pytest.mark.parametrize("path", PATHS)
def test_a_changed_user_is_sideloaded_as_stored_now(seeded: ZendeskServer, path: str) -> None:
    """Rendered users are reused between pages only while the stored user is the same: a change shows at once,
    even one that keeps the user's updated_at."""
    first = export(seeded, path, include="users").json()
    user = first["users"][0]
    store, account = seeded.running.store, seeded.running.store.account(None)
    assert account is not None
    with store.write(account.id) as writer:
        stored = writer.get_record("users", user["id"])
        assert stored is not None
        writer.put_record("users", {**stored, "name": "Renamed Customer"})
    again = export(seeded, path, include="users").json()
    assert [u["name"] for u in again["users"] if u["id"] == user["id"]] == ["Renamed Customer"]
    assert [u for u in again["users"] if u["id"] != user["id"]] == [u for u in first["users"] if u["id"] != user["id"]]


def test_reference_columns_agree_with_the_stored_tickets(seeded: ZendeskServer) -> None:
    """Sideloads read the ids a ticket refers to from its columns: they hold what its JSON says."""
    store, account = seeded.running.store, seeded.running.store.account(None)
    assert account is not None
    columns = wanted_columns({"include": "users,groups,organizations,brands,ticket_forms,custom_statuses"})
    assert "requester_id" in columns and "email_cc_ids" in columns
    for row in store.changes(account.id, "tickets", (0, 0), 2**40, -1, extra=columns):
        ticket = orjson.loads(b"{" + row.body + b"}")
        stored = {name: orjson.loads(value) if name.endswith("_ids") else value
                  for name, value in zip(columns, row.extra, strict=True)}
        assert stored == {name: ticket[name] for name in columns}


def test_extra_columns_only_on_the_tickets_feed(seeded: ZendeskServer) -> None:
    store = seeded.running.store
    with pytest.raises(ValueError):
        store.changes(1, "users", (0, 0), 2**40, 10, extra=("id",))
    with pytest.raises(ValueError):
        store.changes(1, "tickets", (0, 0), 2**40, 10, extra=("id; DROP TABLE tickets",))
