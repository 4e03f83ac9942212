"""Zendesk's id range: a record id is a positive 64-bit signed integer, 1 to 2**63 - 1.

Anything a client sends as an id (a path segment, ``ids=``, a cursor, a body field) is held to this range before
it reaches the store: beyond it no record can exist (Zendesk answers 404), and neither SQLite nor PostgreSQL can
even compare it with a stored id. Text is parsed as ASCII digits only: ``str.isdigit`` also accepts ``²`` and
other digits ``int`` refuses, and ``int`` refuses more than 4300 digits outright.
"""

from __future__ import annotations

from zendesk_export.server.errors import RecordNotFound

__all__ = ["MAX_ID", "is_id", "id_from_text", "ascii_digits"]

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def ascii_digits(text: str) -> bool:
    """Only 0-9 (what ``int`` reads back exactly), at least one."""
    return text.isascii() and text.isdigit()


def is_id(value: object) -> bool:
    """An int (not a bool) in Zendesk's id range."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def id_from_text(text: str) -> int:
    """A path or query id → int; anything that cannot be a record id → ``RecordNotFound`` (Zendesk's 404)."""
    if not ascii_digits(text) or len(text.lstrip("0")) > _MAX_DIGITS:
        raise RecordNotFound()
    value = int(text)
    if not is_id(value):
        raise RecordNotFound()
    return value
