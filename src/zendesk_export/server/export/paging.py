"""Zendesk's two paginations of list endpoints, over any ordered source.

* **offset**: ``page`` (from 1) and ``per_page`` (≤ 100) → ``{key: […], "next_page", "previous_page", "count"}``,
  links on the ``.json`` path with the query's other parameters in alphabetical order.
* **cursor**: ``page[size]`` (≤ 100), ``page[after]``/``page[before]`` → ``{key: […], "meta": {"has_more",
  "after_cursor", "before_cursor"}, "links": {"prev", "next"}}``. Both cursors and both links are set on every
  non-empty page, the last one included; past the end the page is empty and all four are null (recorded).

A cursor is Zendesk's own token form: base64 of ``{"o": ORDER, "v": base64(packed key)}``, the key packed as
tagged values (``i`` + int64 LE, ``s`` + uint32 LE length + UTF-8). A token whose order is not the resource's is
refused like garbage, with Zendesk's 400.

A handler builds a ``PageRequest`` with ``parse_page``, runs it on a ``Source`` with ``fetch`` (one query of
``size + 1`` items for a cursor page: O(page)), and renders with ``envelope``. Nothing here knows HTTP.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode

import orjson

from zendesk_export.server.errors import InvalidPageParameter
from zendesk_export.server.model.ids import ascii_digits
from zendesk_export.server.store import Store

__all__ = [
    "CURSOR",
    "OFFSET",
    "PAGE_SIZE_MAX",
    "Key",
    "ListSource",
    "Page",
    "PageRequest",
    "Source",
    "StoreSource",
    "decode_cursor",
    "encode_cursor",
    "envelope",
    "fetch",
    "parse_page",
]

OFFSET, CURSOR = "offset", "cursor"
PAGE_SIZE_MAX = 100  # page[size] above it is a 400; per_page above it is cut to it
_CURSOR_PARAMS = ("page[size]", "page[after]", "page[before]")

Key = tuple[int | str, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """What page a list request asks for: its style, its size, and where it starts."""

    style: str  # OFFSET or CURSOR
    size: int
    order: str  # the cursor's order name, e.g. "id" or "created_at,id"
    page: int = 1  # offset pages count from 1
    after: Key | None = None
    before: Key | None = None


def parse_page(params: Mapping[str, str], order: str = "id", *, styles: Sequence[str] = (OFFSET, CURSOR),
               default_size: int = 100, max_size: int = PAGE_SIZE_MAX) -> PageRequest:
    """The page a query asks for. Any ``page[…]`` parameter chooses cursor paging (a bare request is offset,
    as Zendesk answers one), unless the resource has one style only."""
    wants_cursor = any(name in params for name in _CURSOR_PARAMS)
    if CURSOR in styles and (wants_cursor or OFFSET not in styles):
        return _cursor_request(params, order, default_size, max_size)
    per_page = _clamped(params.get("per_page"), default_size, 1, max_size)
    return PageRequest(OFFSET, per_page, order, page=_clamped(params.get("page"), 1, 1, 10**7))


def _cursor_request(params: Mapping[str, str], order: str, default_size: int, max_size: int) -> PageRequest:
    size = default_size
    raw = params.get("page[size]")
    if raw is not None:
        digits = raw.strip().lstrip("0")
        if not ascii_digits(raw.strip()) or not digits:  # ASCII only: `²` passes isdigit, not int
            raise InvalidPageParameter("page[size] is not valid")
        size = int(digits) if len(digits) < 19 else max_size + 1  # int() refuses thousands of digits
        if size > max_size:
            raise InvalidPageParameter(f"page[size] cannot be greater than {max_size}")
    after, before = params.get("page[after]"), params.get("page[before]")
    return PageRequest(CURSOR, size, order,
                       after=decode_cursor(after, order, "page[after]") if after else None,
                       before=decode_cursor(before, order, "page[before]") if before else None)


def _clamped(raw: str | None, default: int, low: int, high: int) -> int:
    """An offset parameter as Zendesk reads it: a non-number is the default, out of range is cut to the range."""
    try:
        return max(low, min(high, int(raw))) if raw is not None else default
    except ValueError:
        return default


# -- cursor tokens ------------------------------------------------------------------------------------------
def encode_cursor(order: str, key: Key) -> str:
    packed = b"".join(_pack(value) for value in key)
    inner = {"o": order, "v": base64.b64encode(packed).decode()}
    return base64.b64encode(orjson.dumps(inner)).decode()


def _pack(value: int | str) -> bytes:
    if isinstance(value, int):
        return b"i" + struct.pack("<q", value)
    data = value.encode()
    return b"s" + struct.pack("<I", len(data)) + data


def decode_cursor(token: str, order: str, name: str = "page[after]") -> Key:
    """The key a token of ``order`` holds; anything else (garbage, another resource's order) is Zendesk's 400."""
    try:
        inner = orjson.loads(base64.b64decode(token, validate=True))
        if not isinstance(inner, dict) or inner.get("o") != order or not isinstance(inner.get("v"), str):
            raise ValueError(token)
        return _unpack(base64.b64decode(inner["v"], validate=True))
    except (ValueError, binascii.Error, orjson.JSONDecodeError, struct.error, UnicodeDecodeError):
        raise InvalidPageParameter(f"{name} is not valid") from None


def _unpack(packed: bytes) -> Key:
    values: list[int | str] = []
    at = 0
    while at < len(packed):
        tag, at = packed[at : at + 1], at + 1
        if tag in (b"i", b"d"):
            values.append(struct.unpack_from("<q", packed, at)[0])
            at += 8
        elif tag == b"s":
            (length,) = struct.unpack_from("<I", packed, at)
            values.append(packed[at + 4 : at + 4 + length].decode())
            at += 4 + length
        else:
            raise ValueError(tag)
    if not values:
        raise ValueError("empty cursor")
    return tuple(values)


# -- sources and pages --------------------------------------------------------------------------------------
class Source(Protocol[T]):
    """An ordered collection a list endpoint pages through. ``after`` and ``before`` return items in ascending
    order: the first ``limit`` after ``key`` (from the start when None), or the last ``limit`` before it."""

    def total(self) -> int: ...

    def offset(self, start: int, limit: int) -> list[T]: ...

    def after(self, key: Key | None, limit: int) -> list[T]: ...

    def before(self, key: Key, limit: int) -> list[T]: ...

    def key(self, item: T) -> Key: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    request: PageRequest
    has_more: bool = False
    total: int | None = None  # offset pages only
    first: Key | None = None  # cursor pages: the keys of the first and last items
    last: Key | None = None


def fetch(source: Source[T], request: PageRequest) -> Page[T]:
    """One page of ``source``: a cursor page reads ``size + 1`` items to know whether more follow."""
    if request.style == OFFSET:
        items = source.offset((request.page - 1) * request.size, request.size)
        return Page(items, request, total=source.total())
    if request.before is not None:
        items = source.before(request.before, request.size + 1)
        more, items = len(items) > request.size, items[-request.size :]
    else:
        items = source.after(request.after, request.size + 1)
        more, items = len(items) > request.size, items[: request.size]
    if not items:
        return Page(items, request)
    return Page(items, request, has_more=more, first=source.key(items[0]), last=source.key(items[-1]))


class ListSource(Generic[T]):
    """A small collection held in memory (derived lists such as tags), sorted by ``key``."""

    def __init__(self, items: Sequence[T], key: Callable[[T], Key]) -> None:
        self._items = sorted(items, key=key)
        self.key = key

    def total(self) -> int:
        return len(self._items)

    def offset(self, start: int, limit: int) -> list[T]:
        return self._items[start : start + limit]

    def after(self, key: Key | None, limit: int) -> list[T]:
        return [i for i in self._items if key is None or self.key(i) > key][:limit]

    def before(self, key: Key, limit: int) -> list[T]:
        return [i for i in self._items if self.key(i) < key][-limit:]


class StoreSource:
    """Stored objects in id order: one kind of the records table, or the users/groups/organizations table
    (``kind`` None). Every read is one range scan of the primary key."""

    def __init__(self, store: Store, account_id: int, table: str, kind: str | None) -> None:
        self.store, self.account_id, self.table, self.kind = store, account_id, table, kind

    def total(self) -> int:
        return self.store.resource_count(self.account_id, self.table, self.kind)

    def offset(self, start: int, limit: int) -> list[dict[str, Any]]:
        return self.store.resource_page(self.account_id, self.table, self.kind, offset=start, limit=limit)

    def after(self, key: Key | None, limit: int) -> list[dict[str, Any]]:
        after = _id_of(key) if key is not None else None
        return self.store.resource_page(self.account_id, self.table, self.kind, after=after, limit=limit)

    def before(self, key: Key, limit: int) -> list[dict[str, Any]]:
        return self.store.resource_page(self.account_id, self.table, self.kind, before=_id_of(key), limit=limit)

    def key(self, item: dict[str, Any]) -> Key:
        return (int(item["id"]),)


def _id_of(key: Key) -> int:
    """An id cursor holds one integer; a token of the right order with another value is not valid."""
    if len(key) != 1 or not isinstance(key[0], int):
        raise InvalidPageParameter("page[after] is not valid")
    return key[0]


# -- envelopes ----------------------------------------------------------------------------------------------
def envelope(data_key: str, items: list[Any], page: Page[Any], url: str,
             params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The response body of ``page`` with its rendered ``items``. ``url`` is the absolute URL of the path as
    requested (``.json`` or not), ``params`` the query as sent: links keep every other parameter."""
    if page.request.style == OFFSET:
        return {data_key: items, **_offset_links(page, url, params)}
    request = page.request
    if page.first is None or page.last is None:
        meta = {"has_more": False, "after_cursor": None, "before_cursor": None}
        return {data_key: items, "meta": meta, "links": {"prev": None, "next": None}}
    after, before = encode_cursor(request.order, page.last), encode_cursor(request.order, page.first)
    kept = [(k, v) for k, v in params if k not in _CURSOR_PARAMS] + [("page[size]", str(request.size))]
    return {data_key: items,
            "meta": {"has_more": page.has_more, "after_cursor": after, "before_cursor": before},
            "links": {"prev": _link(url, kept + [("page[before]", before)]),
                      "next": _link(url, kept + [("page[after]", after)])}}


def _offset_links(page: Page[Any], url: str, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``next_page``/``previous_page`` always on the ``.json`` path, with ``per_page`` kept when it was sent."""
    json_url = url if url.endswith(".json") else url + ".json"
    kept = [(k, v) for k, v in params if k != "page"]
    number, total = page.request.page, page.total or 0
    return {"next_page": _link(json_url, kept + [("page", str(number + 1))])
            if number * page.request.size < total else None,
            "previous_page": _link(json_url, kept + [("page", str(number - 1))]) if number > 1 else None,
            "count": total}


def _link(url: str, params: Sequence[tuple[str, str]]) -> str:
    last = dict(params)  # a repeated parameter keeps its last value, as the handlers read it
    return f"{url}?{urlencode(sorted(last.items()))}"
