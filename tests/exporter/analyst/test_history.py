"""Field history and comments from ticket events, on recorded event shapes and on each shape a custom field
change arrives in."""

from __future__ import annotations

from typing import Any

from tests.reference import load_reference
from zendesk_export.exporter.analyst import comment_rows, field_history_rows

EMBULK = "fixtures/embulk-input-zendesk/ticket_events_updated_by_system_records.json"


def audit(*children: dict[str, Any], via: str = "Web form") -> dict[str, Any]:
    return {"child_events": list(children), "id": 900, "ticket_id": 7, "timestamp": 1700000000,
            "created_at": "2023-11-14T22:13:20Z", "updater_id": 55, "via": via, "event_type": "Audit"}


def change(event_id: int, previous: Any = None, event_type: str = "Change", **field: Any) -> dict[str, Any]:
    child = {"id": event_id, "via": "Web form", "via_reference_id": None, **field, "event_type": event_type}
    return {**child, "previous_value": previous} if event_type == "Change" else child


def short(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["event_id"], r["field"], r["value"], r["previous_value"]) for r in rows]


def test_the_recorded_create_audit_gives_one_row_per_field_and_none_for_the_comment() -> None:
    first = load_reference(EMBULK)["ticket_events"][0]
    rows = field_history_rows(first)
    assert short(rows) == [
        (614323587594, "assignee_id", "374673563333", None),
        (614323587674, "subject", "Sample ticket: Meet the ticket", None),
        (614323587694, "tags", '["sample","support","zendesk"]', None),
        (614323587734, "group_id", "360003235353", None),
        (614323587774, "status", "open", None),
        (614323587794, "requester_id", "374737473854", None),
    ]
    assert {(r["audit_id"], r["ticket_id"], r["updated_at"], r["author_id"], r["via"]) for r in rows} == {
        (614323587394, 1, "2019-02-20T06:50:45Z", 374737473854, "Sample Ticket")}


def test_recorded_changes_keep_their_previous_value_as_sent() -> None:
    second = load_reference(EMBULK)["ticket_events"][1]
    assert short(field_history_rows(second)) == [
        (614323589934, "type", "incident", "0"), (614323589954, "priority", "normal", "0")]


def test_every_recorded_field_event_has_a_row_and_keys_are_unique() -> None:
    for path in (EMBULK, "fixtures/amp-labs/read_incremental_ticket_events.json"):
        events = load_reference(path)["ticket_events"]
        rows = [row for event in events for row in field_history_rows(event)]
        fields = [c for e in events for c in e["child_events"] if c["event_type"] in ("Create", "Change")]
        assert len(rows) == len(fields)
        assert len({(r["event_id"], r["field"]) for r in rows}) == len(rows)


def test_a_custom_field_named_by_its_id_is_custom_fields_dot_id() -> None:
    rows = field_history_rows(audit(change(1, "old", **{"360001": "new"})))
    assert short(rows) == [(1, "custom_fields.360001", "new", "old")]


def test_custom_ticket_fields_give_one_row_per_field() -> None:
    rows = field_history_rows(audit(change(2, {"11": None, "12": "a"}, custom_ticket_fields={"11": True, "12": "b"})))
    assert short(rows) == [(2, "custom_fields.11", "true", None), (2, "custom_fields.12", "b", "a")]


def test_a_whole_custom_fields_list_gives_a_row_per_changed_field_only() -> None:
    before = [{"id": 1, "value": "x"}, {"id": 2, "value": None}, {"id": 3, "value": False}, {"id": 4, "value": "y"}]
    after = [{"id": 1, "value": "x"}, {"id": 2, "value": "tier_pro"}, {"id": 3, "value": True}]
    rows = field_history_rows(audit(change(3, before, custom_fields=after)))
    assert short(rows) == [(3, "custom_fields.2", "tier_pro", None), (3, "custom_fields.3", "true", "false"),
                           (3, "custom_fields.4", None, "y")]


def test_a_created_custom_fields_list_gives_a_row_per_field_with_a_value() -> None:
    created = [{"id": 1, "value": "x"}, {"id": 2, "value": None}, {"id": 3, "value": False}]
    rows = field_history_rows(audit(change(4, event_type="Create", custom_fields=created)))
    assert short(rows) == [(4, "custom_fields.1", "x", None), (4, "custom_fields.3", "false", None)]


def test_tags_keep_the_list_and_ignore_added_and_removed() -> None:
    child = change(5, ["a"], tags=["a", "b"], added_tags=["b"], removed_tags=[])
    assert short(field_history_rows(audit(child))) == [(5, "tags", '["a","b"]', '["a"]')]


def test_a_child_without_a_via_name_takes_the_audit_s() -> None:
    child = {"id": 6, "status": "open", "event_type": "Create"}
    assert [r["via"] for r in field_history_rows(audit(child, via="Mail"))] == ["Mail"]


def test_other_child_events_and_odd_shapes_give_no_rows() -> None:
    event = audit({"id": 8, "event_type": "Notification", "subject": "x"}, "junk",  # type: ignore[arg-type]
                  {"id": 9, "event_type": "Comment", "comment_present": True, "comment_public": True})
    assert field_history_rows(event) == []
    assert field_history_rows({"id": 1}) == []
    assert comment_rows({"id": 1, "child_events": None}) == []


def test_a_child_event_without_an_integer_id_has_no_row_in_either_table() -> None:
    """Its key would be NULL: PostgreSQL and Parquet refuse that, and the stream would stop at its page."""
    children = [{"event_type": "Create", "status": "open"}, {"id": "12", "event_type": "Create", "priority": "low"},
                {"id": 2**64 - 1, "event_type": "Comment", "body": "x"}, {"event_type": "Comment", "body": "y"},
                {"id": 13, "event_type": "Create", "type": "task"}, {"id": 14, "event_type": "Comment", "body": "z"}]
    assert [(r["event_id"], r["field"]) for r in field_history_rows(audit(*children))] == [(13, "type")]
    assert [r["id"] for r in comment_rows(audit(*children))] == [14]


def test_the_recorded_comment_without_comment_events_is_a_row_without_body() -> None:
    event = load_reference("fixtures/amp-labs/read_incremental_ticket_events.json")["ticket_events"][0]
    assert comment_rows(event) == [{
        "id": 26363597413779, "audit_id": 26363597413651, "ticket_id": 1, "author_id": 26363597354387,
        "public": True, "body": None, "created_at": "2024-02-15T16:23:07Z", "via": "Sample Ticket"}]


def test_a_comment_event_gives_its_author_body_visibility_and_time() -> None:
    comment = {"id": 10, "via": {"channel": "api"}, "via_reference_id": None, "comment_present": True,
               "comment_public": False, "author_id": 77, "body": "Internal note", "public": False,
               "created_at": "2023-11-14T22:13:21Z", "event_type": "Comment"}
    assert comment_rows(audit(comment, via="Web service")) == [{
        "id": 10, "audit_id": 900, "ticket_id": 7, "author_id": 77, "public": False, "body": "Internal note",
        "created_at": "2023-11-14T22:13:21Z", "via": "Web service"}]
