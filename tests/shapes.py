"""Strict comparison of our JSON with JSON recorded from real Zendesk: one helper for every contract test.

The recording is read as a schema: at every path, the JSON types it shows (null, boolean, integer, number,
string, object, array), each object's keys in order, and for a list, the shape of every element it holds (a
list of tickets teaches that ``priority`` is sometimes null, because some recorded ticket has null there). Our
JSON matches when, at every path:

- an object has exactly the keys of a recorded object there (in the same order, unless ``ordered=False``);
  a list of differing objects (audit events) is matched element by element with the recorded one of same keys;
- the type is one the recording shows there: null only where Zendesk sent null, a value where it sent one;
- every element of every list of ours, not only the first, has a recorded element's shape;
- a list is empty only where Zendesk sent an empty one, and non-empty only where Zendesk's had elements.

Nothing is skipped silently: a recording cannot show that a field is sometimes null or a list sometimes empty,
so a test that meets such a case names the path (``nullable``, ``empty``) and says why. Paths read
``$.tickets[].via.source``; an allowance matches a path ending with it at a name boundary, so
``organization_id`` allows that key anywhere and ``ticket.organization_id`` only under ``ticket``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Shape", "assert_same_shape", "json_type", "learn", "shape_errors"]


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``True`` is a boolean, not an integer)."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                       (dict, "object"), (list, "array")):
        if isinstance(value, kind):
            return name
    raise TypeError(f"not a JSON value: {value!r}")


@dataclass
class Shape:
    """What recorded values at one path show: their types, their objects' key lists (each with the shapes of
    its keys), and the shape of their lists' elements (with whether a list was ever empty or not)."""

    types: set[str] = field(default_factory=set)
    objects: dict[tuple[str, ...], dict[str, Shape]] = field(default_factory=dict)
    items: Shape | None = None  # None: no recorded list had an element
    empty_list: bool = False
    example: Any = None

    def add(self, value: Any) -> Shape:
        kind = json_type(value)
        self.types.add(kind)
        if self.example is None:
            self.example = value
        if kind == "object":
            keys = self.objects.setdefault(tuple(value), {})
            for key, item in value.items():
                keys.setdefault(key, Shape()).add(item)
        elif kind == "array":
            self.empty_list |= not value
            for item in value:
                self.items = (self.items or Shape()).add(item)
        return self


def learn(*recorded: Any) -> Shape:
    """The shape of one or more recorded values at the same path."""
    shape = Shape()
    for value in recorded:
        shape.add(value)
    return shape


class _Rules:
    def __init__(self, nullable: Iterable[str], empty: Iterable[str], ordered: bool) -> None:
        self.nullable, self.empty, self.ordered = tuple(nullable), tuple(empty), ordered

    @staticmethod
    def _matches(path: str, patterns: tuple[str, ...]) -> bool:
        general = re.sub(r"\[\d+\]", "[]", path)  # $.tickets[3].tags → $.tickets[].tags
        return any(general == p or general.endswith("." + p) for p in patterns)

    def may_be_null(self, path: str) -> bool:
        return self._matches(path, self.nullable)

    def may_be_empty(self, path: str) -> bool:
        return self._matches(path, self.empty)


def shape_errors(ours: Any, real: Any | Shape, *, nullable: Iterable[str] = (), empty: Iterable[str] = (),
                 ordered: bool = True) -> list[str]:
    """Every difference between ``ours`` and the recording (a value, or a ``Shape`` learnt from several), one
    line each; none when ours has the recorded shape."""
    errors: list[str] = []
    shape = real if isinstance(real, Shape) else learn(real)
    _check(ours, shape, "$", _Rules(nullable, empty, ordered), errors)
    return errors


def assert_same_shape(ours: Any, real: Any | Shape, *, nullable: Iterable[str] = (), empty: Iterable[str] = (),
                      ordered: bool = True) -> None:
    """Fail, listing every difference, unless ``ours`` has the recorded shape (see the module's doc)."""
    errors = shape_errors(ours, real, nullable=nullable, empty=empty, ordered=ordered)
    assert not errors, f"{len(errors)} difference(s) from the recorded shape:\n  " + "\n  ".join(errors)


def _check(ours: Any, shape: Shape, path: str, rules: _Rules, errors: list[str]) -> None:
    kind = json_type(ours)
    if kind not in shape.types:
        if not ("null" in (kind, *shape.types) and rules.may_be_null(path)):
            errors.append(f"{path}: ours is {kind} ({_short(ours)}), Zendesk's is "
                          f"{' or '.join(sorted(shape.types))} ({_short(shape.example)})")
        return
    if kind == "object":
        _check_object(ours, shape, path, rules, errors)
    elif kind == "array":
        _check_list(ours, shape, path, rules, errors)


def _check_object(ours: dict[str, Any], shape: Shape, path: str, rules: _Rules, errors: list[str]) -> None:
    keys = _recorded_keys(ours, shape, rules.ordered)
    if keys is None:
        closest = min(shape.objects, key=lambda k: len(set(k) ^ set(ours))) if shape.objects else ()
        missing, extra = [k for k in closest if k not in ours], [k for k in ours if k not in closest]
        if missing or extra:
            errors.append(f"{path}: missing keys {missing}, keys Zendesk does not send {extra}")
        else:
            errors.append(f"{path}: key order {list(ours)} != Zendesk's {list(closest)}")
        return
    for key, value in ours.items():
        _check(value, shape.objects[keys][key], f"{path}.{key}", rules, errors)


def _recorded_keys(ours: dict[str, Any], shape: Shape, ordered: bool) -> tuple[str, ...] | None:
    """The recorded key list ours matches: the same keys in the same order (or in any order)."""
    if tuple(ours) in shape.objects:
        return tuple(ours)
    if not ordered:
        return next((keys for keys in shape.objects if set(keys) == set(ours)), None)
    return None


def _check_list(ours: list[Any], shape: Shape, path: str, rules: _Rules, errors: list[str]) -> None:
    if not ours:
        if not shape.empty_list and not rules.may_be_empty(path):
            errors.append(f"{path}: ours is empty where Zendesk's has elements: their shape goes unchecked")
        return
    if shape.items is None:
        if not rules.may_be_empty(path):
            errors.append(f"{path}: Zendesk's is empty, so ours ({_short(ours)}) has no recorded shape")
        return
    for index, element in enumerate(ours):
        _check(element, shape.items, f"{path}[{index}]", rules, errors)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
