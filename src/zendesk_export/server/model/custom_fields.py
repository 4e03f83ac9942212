"""Tickets' custom field values, typed by their ticket field: what a value of each field type looks like on the
wire, whether a value sent is acceptable, and the tags that drop-down, multi-select and checkbox values put on
the ticket.

A field here is a ticket field object as stored (``type``, ``title``, ``custom_field_options``, ``tag``,
``regexp_for_validation``). ``typed_value`` turns what a client sent into the value Zendesk shows, or raises
``ValueError``; ``field_tags`` is what a value adds to the ticket's tags, and ``retag`` moves the ticket's tags
when values change (the old value's tags go, the new value's come), as Zendesk does.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from zendesk_export.server.errors import RecordInvalid
from zendesk_export.server.model.ids import is_id
from zendesk_export.server.store import Store

__all__ = ["FIELD_CLASSES", "typed_value", "typed_custom_fields", "account_fields", "field_tags", "retag",
           "seed_values"]

Field = Mapping[str, Any]

# The class name Zendesk's validation errors give a field of each type (``ticket_field_type``).
FIELD_CLASSES = {"text": "FieldText", "textarea": "FieldTextarea", "checkbox": "FieldCheckbox",
                 "date": "FieldDate", "integer": "FieldInteger", "decimal": "FieldDecimal", "regexp": "FieldRegexp",
                 "partialcreditcard": "FieldPartialCreditCard", "tagger": "FieldTagger",
                 "multiselect": "FieldMultiselect", "lookup": "FieldLookup"}
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(\.[0-9]{1,10})?")


def _text(field: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError
    return value if isinstance(value, str) else str(value)  # a number sent to a text field is kept as its text


def _checkbox(field: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _date(field: Field, value: Any) -> str:
    """``YYYY-MM-DD``; a full ISO time is cut to its date."""
    if not isinstance(value, str) or len(value) < 10 or (len(value) > 10 and value[10] != "T"):
        raise ValueError
    return datetime.date.fromisoformat(value[:10]).isoformat()


def _integer(field: Field, value: Any) -> str:
    """Shown as a string of digits, as Zendesk keeps every custom value as text."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _INTEGER.fullmatch(text.strip()):
        raise ValueError
    return str(int(text))


def _decimal(field: Field, value: Any) -> str:
    """Shown as a string (``"12.5"``); a number sent is written out in plain digits."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError
    try:
        number = Decimal(value.strip() if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ValueError from None
    text = format(number, "f")
    if not number.is_finite() or not _DECIMAL.fullmatch(text):
        raise ValueError
    return text


def _regexp(field: Field, value: Any) -> str:
    text = _text(field, value)
    pattern = field.get("regexp_for_validation")
    if isinstance(pattern, str) and pattern:
        try:  # Ruby's end of string \z is Python's \Z
            matches = re.search(pattern.replace("\\z", "\\Z"), text) is not None
        except re.error:
            matches = True  # a pattern Python cannot read validates nothing
        if not matches:
            raise ValueError
    return text


def _card(field: Field, value: Any) -> str:
    """Only the last four digits are kept: the others become ``X`` (a value shown before, already masked, is
    taken back as it is)."""
    if not isinstance(value, str):
        raise ValueError
    number = re.sub(r"[ -]", "", value)
    digits = number.lstrip("X")
    if not digits.isascii() or not digits.isdigit() or not 4 <= len(number) <= 19 or len(digits) < 4:
        raise ValueError
    return "X" * (len(number) - 4) + digits[-4:]


def _options(field: Field) -> list[str]:
    return [o["value"] for o in field.get("custom_field_options") or () if isinstance(o, dict)]


def _tagger(field: Field, value: Any) -> str | None:
    if value == "":
        return None
    if not isinstance(value, str) or value not in _options(field):
        raise ValueError
    return value


def _multiselect(field: Field, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v in _options(field) for v in values):
        raise ValueError
    return list(dict.fromkeys(values))


def _lookup(field: Field, value: Any) -> int:
    number = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value
    if isinstance(number, bool) or not is_id(number):
        raise ValueError
    return int(number)


_TYPED: dict[str, Callable[[Field, Any], Any]] = {
    "text": _text, "textarea": _text, "checkbox": _checkbox, "date": _date, "integer": _integer,
    "decimal": _decimal, "regexp": _regexp, "partialcreditcard": _card, "tagger": _tagger,
    "multiselect": _multiselect, "lookup": _lookup}


def typed_value(field: Field, value: Any) -> Any:
    """The value Zendesk shows for ``value`` sent to ``field``; ``ValueError`` if the field cannot hold it. A null
    clears any field (an unchecked checkbox is ``false``)."""
    if value is None:
        return False if field.get("type") == "checkbox" else None
    typed = _TYPED.get(str(field.get("type")))
    return value if typed is None else typed(field, value)


def _invalid(field: Field) -> dict[str, Any]:
    return {"description": f"{field.get('title') or 'Field'}: is invalid", "error": "InvalidValue",
            "ticket_field_id": field["id"], "ticket_field_type": FIELD_CLASSES.get(str(field.get("type")), "Field")}


def typed_custom_fields(fields: Mapping[int, Field], values: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{id, value}]`` with each value typed by its field (ids naming no custom field of the account are kept
    as sent); 422 ``RecordInvalid`` naming every field whose value does not fit."""
    typed, errors = [], []
    for item in values:
        field = fields.get(item["id"])
        if field is None:
            typed.append(item)
            continue
        try:
            typed.append({"id": item["id"], "value": typed_value(field, item["value"])})
        except ValueError:
            errors.append(_invalid(field))
    if errors:
        raise RecordInvalid({"base": errors})
    return typed


def field_tags(field: Field | None, value: Any) -> list[str]:
    """The tags a field's value puts on its ticket: a drop-down's option, a multi-select's options, a checked
    checkbox's tag."""
    if field is None or value in (None, False, "", []):
        return []
    kind = field.get("type")
    if kind == "tagger" and isinstance(value, str):
        return [value]
    if kind == "multiselect" and isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if kind == "checkbox" and value is True and isinstance(field.get("tag"), str) and field["tag"]:
        return [field["tag"]]
    return []


def retag(tags: list[str], fields: Mapping[int, Field], before: Mapping[int, Any], after: Mapping[int, Any]
          ) -> list[str]:
    """``tags`` once the fields in ``after`` moved from their values in ``before``: the tags the old values put
    on go, those of the new values come (at the end, in order)."""
    gone: set[str] = set()
    added: list[str] = []
    for field_id, value in after.items():
        old, new = field_tags(fields.get(field_id), before.get(field_id)), field_tags(fields.get(field_id), value)
        gone |= set(old) - set(new)
        added += new
    kept = [t for t in tags if t not in gone]
    return kept + [t for t in dict.fromkeys(added) if t not in kept]


def account_fields(store: Store, account_id: int, values: Iterable[dict[str, Any]]) -> dict[int, Field]:
    """The account's custom ticket fields that ``values`` name, by id."""
    found = store.resources_by_id(account_id, "ticket_fields", sorted({v["id"] for v in values}))
    return {f["id"]: f for f in found if f.get("type") in FIELD_CLASSES}


def seed_values(fields: Iterable[Field]) -> Callable[[random.Random], list[dict[str, Any]]]:
    """What draws the values a seeded ticket holds in ``fields``, as its ``custom_fields`` list: null about
    half the time, else one of the field's type (a checkbox is checked three times in ten). Made once, drawn
    once per ticket, all fields in one comprehension (a seed draws millions). A null or a checkbox's value is
    one dict shared by every ticket that holds it (half of all values: fewer objects to make, send and free),
    so the lists are for rendering, not for changing in place."""
    plan = tuple((field["id"], checkbox := field.get("type") == "checkbox",
                  _seed_makers(_options(field)).get(str(field.get("type")), _no_value),
                  {"id": field["id"], "value": False if checkbox else None}, {"id": field["id"], "value": True})
                 for field in fields)

    def draw(rng: random.Random) -> list[dict[str, Any]]:
        chance = rng.random
        return [(ticked if chance() < 0.3 else empty) if checkbox else empty if chance() < 0.5
                else {"id": i, "value": make(rng)} for i, checkbox, make, empty, ticked in plan]

    return draw


def _no_value(rng: random.Random) -> None:
    """A field type the seed has no values for stays null."""


_SEED_DATES = tuple(datetime.date.fromordinal(739_000 + day).isoformat() for day in range(700))


def _seed_makers(options: list[str]) -> dict[str, Callable[[random.Random], Any]]:
    return {
        "text": lambda rng: f"order-{rng.randrange(10**6)}", "textarea": lambda rng: "Open the app, then tap Sync.",
        "date": lambda rng: _SEED_DATES[rng.randrange(700)], "integer": lambda rng: str(rng.randrange(1, 500)),
        "decimal": lambda rng: f"{rng.randrange(100, 99_999) / 100:.2f}",
        "regexp": lambda rng: f"ABC-{rng.randrange(10**6):06d}",
        "partialcreditcard": lambda rng: "XXXXXXXXXXXX" + str(rng.randrange(1000, 10_000)),
        "tagger": lambda rng: rng.choice(options),
        "multiselect": lambda rng: rng.sample(options, rng.randint(1, len(options))), "lookup": lambda rng: 1}
