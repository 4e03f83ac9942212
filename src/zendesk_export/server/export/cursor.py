"""Zendesk's export cursor and the cursor-based paging rules (reference §1.2, §2.2, Appendix A 9).

A cursor is ``base64("<key>.0||<id>|")`` of the last item of a page, where key is the item's export timestamp
(``generated_timestamp`` for tickets, ``updated_at`` for users). A page is the first ``per_page`` items strictly
after that position in (key, id) order: never more (no timestamp-group expansion), never a duplicate. The first
request gives ``start_time`` instead, which is the position ``(start_time, 0)``: ids start at 1, so every item
with key >= start_time comes after it.

A cursor belongs to its account: the field after the last ``|``, empty in Zendesk's cursors, holds the id of
any account but the default one (whose cursors stay byte-for-byte Zendesk's). A cursor is accepted only by the
account it names, so one minted on another account is the same 400 as a garbled one.

Clients mangle cursors in transit: zenpy sends the cursor un-encoded, so its ``+`` arrives as a space, and a
cursor may lose its ``=`` padding. All of these decode to the same position; anything else is a 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from zendesk_export.server.errors import InvalidPaginationParameter
from zendesk_export.server.export.incremental import parse_start_time
from zendesk_export.server.model.ids import MAX_ID
from zendesk_export.server.store import Account, ExportRow

__all__ = ["Position", "CursorPage", "encode_cursor", "decode_cursor", "parse_position", "cursor_page", "cursor_tag"]

Position = tuple[int, int]  # (export timestamp, id)

_DECODED = re.compile(r"(\d{1,12})(?:\.\d{1,9})?\|\|(\d{1,19})\|(\d{0,19})")
_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")


@dataclass(frozen=True)
class CursorPage:
    rows: Sequence[ExportRow]
    after: Position
    end_of_stream: bool


def cursor_tag(account: Account) -> str:
    """What a cursor of ``account`` carries after its last ``|``: nothing for the default account."""
    return "" if account.is_default else str(account.id)


def encode_cursor(position: Position, tag: str = "") -> str:
    """The cursor of a position, byte-for-byte as Zendesk writes it (`MTY5NTA1MjY2My4wfHwyOHw=`) when ``tag``
    is empty."""
    timestamp, item_id = position
    return base64.b64encode(f"{timestamp}.0||{item_id}|{tag}".encode()).decode()


def decode_cursor(raw: str, tag: str = "") -> Position:
    """A cursor as received (URL-decoded by the framework, or not; `+` possibly turned into a space), minted
    for the account whose tag is ``tag``."""
    text = unquote(raw.strip()).replace(" ", "+")
    if not _BASE64.fullmatch(text):
        raise InvalidPaginationParameter(raw)
    text = text.rstrip("=").replace("-", "+").replace("_", "/")  # padding optional, URL-safe alphabet accepted
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPaginationParameter(raw) from None
    match = _DECODED.fullmatch(decoded)
    # a cursor minted for another account, or beyond Zendesk's ids, is not a position we ever issued here
    if match is None or match.group(3) != tag or int(match.group(2)) > MAX_ID:
        raise InvalidPaginationParameter(raw)
    return int(match.group(1)), int(match.group(2))


def parse_position(params: Mapping[str, str], now: float, tag: str = "") -> Position:
    """Where a cursor request starts: its ``cursor`` (which wins over ``start_time``), else ``start_time``
    (required then, and held to the same too-recent rule as the time-based export)."""
    cursor = params.get("cursor")
    if cursor is not None and cursor.strip():
        return decode_cursor(cursor, tag)
    return parse_start_time(params, now), 0


def cursor_page(rows: Sequence[ExportRow], per_page: int, position: Position) -> CursorPage:
    """``rows``: up to ``per_page + 1`` items after ``position`` (one extra to know if the stream ends here).
    An empty page keeps the position it was asked for, so the client resumes from where it stood."""
    page = rows[:per_page]
    after = (page[-1].generated_timestamp, page[-1].id) if page else position
    return CursorPage(page, after, len(rows) <= per_page)
