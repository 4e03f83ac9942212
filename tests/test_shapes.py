"""The strict shape comparison every contract test uses: each case the old comparison let through is caught."""

from __future__ import annotations

from typing import Any

import pytest

from tests.shapes import assert_same_shape, learn, shape_errors

REAL = {"id": 1, "tags": ["a"], "via": {"channel": "api"}, "assignee_id": 7, "due_at": None,
        "events": [{"type": "Comment", "body": "x"}, {"type": "Change", "field_name": "status", "value": "open"}]}


def ours(**changes: Any) -> dict[str, Any]:
    return {**REAL, **changes}


def test_the_same_shape_passes() -> None:
    assert shape_errors(ours(id=2, tags=["b", "c"]), REAL) == []


@pytest.mark.parametrize(("value", "error"), [
    (ours(assignee_id=None), "$.assignee_id: ours is null (None), Zendesk's is integer (7)"),
    (ours(due_at="2024-01-01"), "$.due_at: ours is string ('2024-01-01'), Zendesk's is null (None)"),
    (ours(id=1.0), "$.id: ours is number (1.0), Zendesk's is integer (1)"),
    (ours(id=True), "$.id: ours is boolean (True), Zendesk's is integer (1)"),
    ({k: v for k, v in REAL.items() if k != "due_at"}, "$: missing keys ['due_at'], keys Zendesk does not send []"),
    (ours(extra=None), "$: missing keys [], keys Zendesk does not send ['extra']"),
    ({"tags": ["a"], **{k: v for k, v in REAL.items() if k != "tags"}}, "$: key order"),
    (ours(tags=["a", 5]), "$.tags[1]: ours is integer (5), Zendesk's is string ('a')"),
    (ours(tags=[]), "$.tags: ours is empty where Zendesk's has elements"),
    (ours(events=[{"type": "Comment", "body": "x"}, {"type": "Comment", "body": None}]),
     "$.events[1].body: ours is null (None), Zendesk's is string ('x')"),
    (ours(events=[{"type": "Create", "field_name": "status", "value": "new", "via": None}]),
     "$.events[0]: missing keys [], keys Zendesk does not send ['via']"),
    (ours(via={"channel": None}), "$.via.channel: ours is null (None), Zendesk's is string ('api')"),
])
def test_each_difference_is_reported_with_its_path(value: dict[str, Any], error: str) -> None:
    errors = shape_errors(value, REAL)
    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_a_list_zendesk_sent_empty_vouches_for_no_element() -> None:
    assert shape_errors({"tags": ["a"]}, {"tags": []}) == [
        "$.tags: Zendesk's is empty, so ours (['a']) has no recorded shape"]


def test_allowances_are_named_paths() -> None:
    value = ours(assignee_id=None, tags=[], events=[{"type": "Comment", "body": None}])
    assert_same_shape(value, REAL, nullable=["assignee_id", "events[].body"], empty=["tags"])
    assert shape_errors(value, REAL, nullable=["other.assignee_id", "body"], empty=["tags"]) == [
        "$.assignee_id: ours is null (None), Zendesk's is integer (7)"]


def test_several_recordings_teach_which_fields_may_be_null() -> None:
    pages = learn({"tickets": [{"priority": "high"}, {"priority": None}]}, {"tickets": []})
    assert shape_errors({"tickets": [{"priority": None}, {"priority": "low"}]}, pages) == []
    assert shape_errors({"tickets": []}, pages) == []
    assert shape_errors({"tickets": [{"priority": 1}]}, pages) == [
        "$.tickets[0].priority: ours is integer (1), Zendesk's is null or string ('high')"]


def test_unordered_compares_key_sets() -> None:
    reordered = {"tags": ["a"], **{k: v for k, v in REAL.items() if k != "tags"}}
    assert shape_errors(reordered, REAL, ordered=False) == []
