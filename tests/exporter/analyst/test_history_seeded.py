"""Field history and comments derived from a real seeded server's ticket events agree exactly with each
ticket's audits, end at each ticket's current values, and show edits made through the API in order."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import orjson
import pytest

from tests.exporter.analyst._server import fetch_all, ticket_events, tickets
from zendesk_export.exporter.analyst import comment_rows, field_history_rows
from zendesk_export.testing import ZendeskAccount

FINAL_FIELDS = ("status", "assignee_id", "group_id", "priority", "tags")


def _text(value: Any) -> str | None:
    """How the audits' values read as history text: strings as they are, lists as compact JSON."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


def _update(client: httpx.Client, ticket_id: int, **fields: Any) -> None:
    client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": fields}).raise_for_status()


@pytest.fixture(scope="module")
def account(_zendesk_accounts_admin: Any) -> Any:
    """One seeded account with scripted edits, shared by this module's tests (they only read it)."""
    account = ZendeskAccount.create(_zendesk_accounts_admin)
    try:
        account.admin.seed(tickets=60, random_seed=5)
        account.admin.advance(61)
        with account.client() as client:
            scripted = _edit(account, client)
            account.admin.advance(61)
            events, current = ticket_events(client), tickets(client)
            audits = {i: fetch_all(client, f"/api/v2/tickets/{i}/audits.json", "audits")
                      for i, ticket in current.items() if ticket["status"] != "deleted"}  # a deleted one: 404
        yield {"events": events, "tickets": current, "audits": audits, "scripted": scripted}
    finally:
        account.delete()
        account.admin.close()


def _edit(account: ZendeskAccount, client: httpx.Client) -> dict[str, Any]:
    """Reassign one ticket twice, change another's tags twice, a third's custom fields and status, comment on a
    fourth; a minute apart each, so the history has a clear order."""
    agents = [u["id"] for u in fetch_all(client, "/api/v2/users.json", "users") if u["role"] in ("agent", "admin")]
    editable = [t for t in tickets(client).values() if t["status"] not in ("closed", "deleted")]
    one, two, three, four = (t["id"] for t in editable[:4])
    steps = [
        (one, {"assignee_id": agents[0], "group_id": 2}), (one, {"assignee_id": agents[1]}),
        (two, {"additional_tags": ["escalated"]}), (two, {"tags": ["escalated", "refund"]}),
        (three, {"custom_fields": [{"id": 360_001, "value": "order-777"}]}),
        (three, {"custom_fields": [{"id": 360_003, "value": True}], "status": "pending"}),
        (four, {"comment": {"body": "Looking into it", "public": False}, "priority": "urgent"}),
    ]
    for ticket_id, fields in steps:
        account.admin.advance(60)
        _update(client, ticket_id, **fields)
    return {"reassigned": one, "agents": agents[:2], "retagged": two, "customised": three, "commented": four,
            "before": {t["id"]: t for t in editable[:4]}}


def _by_ticket(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["updated_at"], r["event_id"])):
        grouped[row["ticket_id"]].append(row)
    return grouped


@pytest.fixture(scope="module")
def history(account: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    return _by_ticket([row for event in account["events"] for row in field_history_rows(event)])


def test_every_audited_field_change_is_one_history_row_with_the_audit_s_values(
        account: dict[str, Any], history: dict[int, list[dict[str, Any]]]) -> None:
    """Fields other than custom_fields (scripted below), compared row for row with /tickets/{id}/audits."""
    assert len(account["audits"]) > 50
    for ticket_id, audits in account["audits"].items():
        expected = {(e["id"], e["field_name"], _text(e["value"]), _text(e.get("previous_value")), a["created_at"],
                     a["author_id"])
                    for a in audits for e in a["events"]
                    if e["type"] in ("Create", "Change") and e["field_name"] != "custom_fields"}
        derived = {(r["event_id"], r["field"], r["value"], r["previous_value"], r["updated_at"], r["author_id"])
                   for r in history[ticket_id] if not r["field"].startswith("custom_fields.")}
        assert derived == expected, ticket_id


def test_the_last_history_value_is_the_ticket_s_current_value(
        account: dict[str, Any], history: dict[int, list[dict[str, Any]]]) -> None:
    """For every ticket not deleted (a deletion is not audited): status, assignee, group, priority and tags."""
    checked = 0
    for ticket_id, ticket in account["tickets"].items():
        if ticket["status"] == "deleted":
            continue
        last = {row["field"]: row["value"] for row in history[ticket_id]}
        for name in FINAL_FIELDS:
            now = ticket[name] if name != "tags" or ticket["tags"] else None  # no tags: never a tags event
            assert last.get(name) == _text(now if not isinstance(now, int) else str(now)), (ticket_id, name)
        checked += 1
    assert checked > 40


def test_a_ticket_reassigned_twice_shows_both_changes_in_order(
        account: dict[str, Any], history: dict[int, list[dict[str, Any]]]) -> None:
    scripted = account["scripted"]
    ticket_id, (first, second) = scripted["reassigned"], scripted["agents"]
    before = scripted["before"][ticket_id]["assignee_id"]
    changes = [(r["value"], r["previous_value"]) for r in history[ticket_id]
               if r["field"] == "assignee_id" and r["updated_at"] > scripted["before"][ticket_id]["updated_at"]]
    assert changes == [(str(first), _text(before and str(before))), (str(second), str(first))]
    assert [r["value"] for r in history[ticket_id] if r["field"] == "group_id"][-1] == "2"


def test_tag_changes_are_the_whole_list_each_time(
        account: dict[str, Any], history: dict[int, list[dict[str, Any]]]) -> None:
    scripted = account["scripted"]
    ticket_id = scripted["retagged"]
    before = scripted["before"][ticket_id]["tags"]
    added = [*before, "escalated"]
    tags = [(r["value"], r["previous_value"]) for r in history[ticket_id] if r["field"] == "tags"]
    assert tags[-2:] == [(_text(added), _text(before)), ('["escalated","refund"]', _text(added))]


def test_custom_field_changes_are_named_by_field_id_in_order(
        account: dict[str, Any], history: dict[int, list[dict[str, Any]]]) -> None:
    scripted = account["scripted"]
    ticket_id = scripted["customised"]
    before = {f["id"]: f["value"] for f in scripted["before"][ticket_id]["custom_fields"]}
    custom = [(r["field"], r["value"], r["previous_value"]) for r in history[ticket_id]
              if r["field"].startswith("custom_fields.")]
    assert custom == [("custom_fields.360001", "order-777", before[360_001]),
                      *([("custom_fields.360003", "true", "false")] if before[360_003] is False else [])]
    current = {f["id"]: f["value"] for f in account["tickets"][ticket_id]["custom_fields"]}
    assert (current[360_001], current[360_003]) == ("order-777", True)


def test_comments_agree_with_the_audits(account: dict[str, Any]) -> None:
    derived = {r["id"]: r for event in account["events"] for r in comment_rows(event)
               if r["ticket_id"] in account["audits"]}  # deleted tickets have no audits to compare with
    expected = {e["id"]: {"id": e["id"], "audit_id": a["id"], "ticket_id": a["ticket_id"], "author_id": e["author_id"],
                          "public": e["public"], "body": e["body"], "created_at": a["created_at"]}
                for audits in account["audits"].values() for a in audits for e in a["events"]
                if e["type"] == "Comment"}
    assert {i: {k: v for k, v in r.items() if k != "via"} for i, r in derived.items()} == expected
    private = [r for r in derived.values() if r["ticket_id"] == account["scripted"]["commented"] and not r["public"]]
    assert [r["body"] for r in private] == ["Looking into it"]
    assert all(r["via"] for r in derived.values())
