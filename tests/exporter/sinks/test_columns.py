"""The typed column table: every documented ticket field has a column, and values become canonical."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zendesk_export.exporter.sinks._columns import (
    SIDELOAD_COLUMNS,
    TICKET_COLUMNS,
    Column,
    Kind,
    column_values,
    extract,
    parse_timestamp,
    sideload_columns,
)
from zendesk_export.tickets import TICKET_FIELDS

from ._pages import make_ticket

COLUMNS = {column.name: column for column in TICKET_COLUMNS}


def _words(text: str) -> list[str]:
    return text.split()


#: Key order of a real incremental export ticket (reference §6.1), plus encoded_id (late 2024).
DOCUMENTED = _words(
    "url id external_id via created_at updated_at type subject raw_subject description priority status recipient "
    "requester_id submitter_id assignee_id organization_id group_id collaborator_ids follower_ids email_cc_ids "
    "forum_topic_id problem_id has_incidents is_public due_at tags custom_fields satisfaction_rating "
    "sharing_agreement_ids custom_status_id fields followup_ids ticket_form_id brand_id allow_channelback "
    "allow_attachments from_messaging_channel generated_timestamp encoded_id"
)

#: Fields the first user's FoxPro client reads that Zendesk documents as write-only: no response carries them
#: (none of the recorded responses under tests/recordings does), so a column would be NULL in every row.
WRITE_ONLY = _words(
    "assignee_email attribute_value_ids macro_id macro_ids safe_update updated_stamp via_followup_source_id via_id "
    "collaborators"
)

#: Every other ticket field the first user's FoxPro client reads (reference/seed-foxpro-…txt).
FOXPRO = _words(
    "requester_id allow_attachments allow_channelback assignee_id brand_id "
    "collaborator_ids created_at custom_fields custom_status_id description due_at email_cc_ids external_id "
    "follower_ids followup_ids forum_topic_id from_messaging_channel group_id has_incidents id is_public "
    "organization_id priority problem_id raw_subject recipient satisfaction_rating "
    "sharing_agreement_ids status subject submitter_id tags ticket_form_id type updated_at url"
)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_documented_ticket_field_has_a_column(name: str) -> None:
    assert name in COLUMNS


@pytest.mark.parametrize("name", FOXPRO)
def test_every_returned_field_the_foxpro_client_reads_has_a_column(name: str) -> None:
    assert name in COLUMNS


@pytest.mark.parametrize("name", WRITE_ONLY)
def test_write_only_fields_have_no_always_null_column(name: str) -> None:
    assert name not in COLUMNS


@pytest.mark.parametrize("field", TICKET_FIELDS, ids=lambda f: f.name)
def test_every_field_of_the_shared_ticket_model_has_a_column_of_its_kind(field: object) -> None:
    """A field added to zendesk_export.tickets must get a column here (and a schema version bump)."""
    kinds = {"int": Kind.INTEGER, "str": Kind.TEXT, "bool": Kind.BOOLEAN, "time": Kind.TIMESTAMP}
    kinds |= {"date": Kind.TIMESTAMP, "json": Kind.JSON}
    assert COLUMNS[field.name].kind is kinds[field.kind]  # type: ignore[attr-defined]


def test_via_is_kept_whole_and_its_channel_gets_a_column() -> None:
    assert COLUMNS["via"].kind is Kind.JSON
    assert COLUMNS["via_channel"].path == ("via", "channel")


def test_column_names_are_unique() -> None:
    for columns in (TICKET_COLUMNS, *SIDELOAD_COLUMNS.values()):
        names = [column.name for column in columns]
        assert len(names) == len(set(names))
        assert names[0] == "id"


def test_extract_gives_canonical_values() -> None:
    ticket = make_ticket(42, 1700000000)
    values = dict(zip((c.name for c in TICKET_COLUMNS), extract(TICKET_COLUMNS, ticket), strict=True))
    assert values["id"] == 42
    assert values["via_channel"] == "sample_ticket"
    assert values["via"] == '{"channel":"sample_ticket","source":{"from":{},"to":{},"rel":null}}'
    assert values["tags"] == '["inquiry","sample_ticket","standard_customer"]'
    assert values["satisfaction_rating"] == '{"score":"unoffered"}'
    assert values["is_public"] is True
    assert values["created_at"] == "2024-02-15T16:24:04Z"
    assert values["encoded_id"] == "7WEDXZ-65X7X"


@pytest.mark.parametrize(
    ("field", "value", "canonical"),
    [
        ("requester_id", "123", None),
        ("requester_id", True, None),
        ("is_public", 1, None),
        ("created_at", 1700000000, None),
        ("subject", 5, "5"),
        ("subject", ["a"], '["a"]'),
        ("satisfaction_rating", None, None),
        ("via", "web", '"web"'),
    ],
)
def test_values_of_an_unexpected_type_do_not_break_the_row(field: str, value: object, canonical: object) -> None:
    """Typed columns take NULL (or JSON text for text columns); raw_json keeps the value as received."""
    values = dict(zip(COLUMNS, extract(TICKET_COLUMNS, make_ticket(1, 1, **{field: value})), strict=True))
    assert values[field] == canonical


def test_extract_does_not_cache_a_row_that_needed_fixing() -> None:
    good, bad = make_ticket(1, 1), make_ticket(2, 2, is_public="yes")
    for _ in range(2):
        assert extract(TICKET_COLUMNS, good)[list(COLUMNS).index("is_public")] is True
        assert extract(TICKET_COLUMNS, bad)[list(COLUMNS).index("is_public")] is None


def test_via_channel_is_null_when_via_is_not_an_object() -> None:
    values = dict(zip(COLUMNS, extract(TICKET_COLUMNS, make_ticket(1, 1, via=None)), strict=True))
    assert values["via_channel"] is None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2023-09-18T15:57:42Z", datetime(2023, 9, 18, 15, 57, 42, tzinfo=UTC)),
        ("2023-09-18T15:57:42", datetime(2023, 9, 18, 15, 57, 42, tzinfo=UTC)),
        ("2023-09-18T17:57:42+02:00", datetime(2023, 9, 18, 15, 57, 42, tzinfo=UTC)),
        ("not a time", None),
        (None, None),
    ],
)
def test_parse_timestamp(text: str | None, parsed: datetime | None) -> None:
    assert parse_timestamp(text) == parsed


def test_unknown_sideload_is_a_clear_value_error() -> None:
    assert sideload_columns("users")[0].name == "id"
    with pytest.raises(ValueError, match="unknown sideload 'brands'; known: users, groups, organizations"):
        sideload_columns("brands")


#: A flat table of every scalar kind, as a child table's rows are.
FLAT = tuple(Column(kind.value, kind, (kind.value,)) for kind in Kind if kind is not Kind.JSON)
#: Integers as orjson reads them: down to -2**63, up to 2**64 - 1 (beyond int64: NULL in an INTEGER column).
_SCALAR = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
           | st.floats(allow_nan=False) | st.text(max_size=3))
_ANY_VALUE = _SCALAR | st.lists(_SCALAR, max_size=2) | st.dictionaries(st.text(max_size=1), _SCALAR, max_size=1)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # CI's workers share two cores
@given(st.lists(st.dictionaries(st.sampled_from([column.name for column in FLAT]), _ANY_VALUE), max_size=4))
@example([{"integer": 2**63}, {"integer": 1}])
@example([{"integer": True, "boolean": 1, "number": 2, "text": 3.5, "timestamp": None}])
def test_a_flat_column_read_column_by_column_gives_what_extract_gives(rows: list[dict[str, object]]) -> None:
    by_row = [extract(FLAT, row) for row in rows]
    assert [column_values(column, rows) for column in FLAT] == [[row[i] for row in by_row] for i in range(len(FLAT))]


def test_only_a_top_level_scalar_column_is_read_column_by_column() -> None:
    via_channel = next(column for column in TICKET_COLUMNS if len(column.path) > 1)
    with pytest.raises(ValueError, match="not a top-level scalar"):
        column_values(via_channel, [{}])
