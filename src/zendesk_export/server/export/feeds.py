"""One implementation of the incremental envelopes for every exported resource.

A ``Feed`` names a store feed (tickets, audits, users, organizations), the response's array key, the export path
and how its items render. ``time_export`` applies the time-based rules of ``incremental`` (also for the sample
endpoint, capped at 50), ``cursor_export`` the cursor rules of ``cursor``. Both hide the last 60 seconds and
build every page with one range query (plus one per sideload): O(page), whatever the account's size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from zendesk_export.server.export.cursor import cursor_page, cursor_tag, encode_cursor, parse_position
from zendesk_export.server.export.incremental import (
    VISIBILITY_DELAY,
    next_page_url,
    parse_bool,
    parse_per_page,
    parse_start_time,
    time_page,
)
from zendesk_export.server.store import Account, ExportRow, Store

__all__ = ["ExportQuery", "Feed", "Rendered", "SAMPLE_LIMIT", "time_export", "cursor_export"]

SAMPLE_LIMIT = 50  # the sample endpoint returns at most 50 items (reference §1.4)


@dataclass(frozen=True)
class ExportQuery:
    """One export request in plain values: where to read, for which account, what was asked, and when."""

    store: Store
    account: Account
    base_url: str  # every URL of the page is built on it
    params: Mapping[str, str]  # the query string (the last value of a repeated name)
    pairs: Sequence[tuple[str, str]]  # the query string as sent, for the next page's link
    now: float  # the server clock

    @property
    def cutoff(self) -> int:
        """Nothing changed within the last minute is exported."""
        return int(self.now) - VISIBILITY_DELAY


@dataclass(frozen=True)
class Rendered:
    items: list[bytes]  # the items' complete JSON, to be joined by commas (a piece may hold several)
    sideloads: list[tuple[str, bytes]]  # top-level arrays (name, JSON array)


@dataclass(frozen=True)
class Feed:
    kind: str  # the store feed
    key: str  # the response's array name
    path: str  # the time-based export path (the cursor path adds "/cursor")
    render: Callable[[ExportQuery, Sequence[ExportRow]], Rendered]
    prepare: Callable[[ExportQuery], None] | None = None  # validation and upkeep before the query (e.g. scrubbing)
    count_first: bool = False  # tickets: `count, end_of_stream, next_page`; others: `next_page, count, …`
    columns: Callable[[Mapping[str, str]], Sequence[str]] | None = None  # extra columns to read with each row


def _json_bool(value: bool) -> bytes:
    return b"true" if value else b"false"


def time_export(query: ExportQuery, feed: Feed, *, sample: bool = False) -> bytes:
    """`GET <path>?start_time=…` (or `<path>/sample`): the time-based page of a feed, for an authorised caller."""
    start = parse_start_time(query.params, query.now)
    if feed.prepare:
        feed.prepare(query)
    per_page = min(parse_per_page(query.params), SAMPLE_LIMIT) if sample else parse_per_page(query.params)
    exclude = parse_bool(query.params, "exclude_deleted")
    store, account_id, cutoff = query.store, query.account.id, query.cutoff
    extra = feed.columns(query.params) if feed.columns else ()
    rows = store.changes(account_id, feed.kind, (start, 0), cutoff, per_page, exclude, extra)
    # A full page of one timestamp holds the start of its group: only the rest of the group is read.
    group = (lambda ts: rows) if sample else (
        lambda ts: [*rows, *store.changes(account_id, feed.kind, (ts, rows[-1].id), ts, -1, exclude, extra)])
    page = time_page(rows, per_page, group)
    rendered = feed.render(query, page.rows)
    next_page = b"null"
    if page.end_time is not None:
        path = feed.path + "/sample" if sample else feed.path
        url = next_page_url(query.base_url, path, query.pairs, ("start_time", str(page.end_time)))
        next_page = orjson.dumps(url)
    count = b'"count":' + str(len(page.rows)).encode()
    end = b'"end_of_stream":' + _json_bool(page.end_of_stream)
    link = b'"next_page":' + next_page
    middle = [count, end, link] if feed.count_first else [link, count, end]
    end_time = str(page.end_time).encode() if page.end_time is not None else b"null"
    return _envelope(feed.key, rendered, [*middle, b'"end_time":' + end_time])


def cursor_export(query: ExportQuery, feed: Feed) -> bytes:
    """`GET <path>/cursor?start_time=…|cursor=…`: the cursor-based page of a feed, for an authorised caller."""
    tag = cursor_tag(query.account)  # a cursor is good on its own account only
    position = parse_position(query.params, query.now, tag)
    if feed.prepare:
        feed.prepare(query)
    per_page = parse_per_page(query.params)
    exclude = parse_bool(query.params, "exclude_deleted")
    extra = feed.columns(query.params) if feed.columns else ()
    rows = query.store.changes(query.account.id, feed.kind, position, query.cutoff, per_page + 1, exclude, extra)
    page = cursor_page(rows, per_page, position)
    cursor = encode_cursor(page.after, tag)
    url = next_page_url(query.base_url, feed.path + "/cursor", query.pairs, ("cursor", cursor))
    tail = [b'"after_url":' + orjson.dumps(url), b'"before_url":null', b'"after_cursor":' + orjson.dumps(cursor),
            b'"before_cursor":null', b'"end_of_stream":' + _json_bool(page.end_of_stream)]
    return _envelope(feed.key, feed.render(query, page.rows), tail)


def _envelope(key: str, rendered: Rendered, members: list[bytes]) -> bytes:
    """`{"<key>": [...], <sideload arrays>, <members>}` — sideloads sit right after the items they describe."""
    parts = [b'{"', key.encode(), b'":[', b",".join(rendered.items), b"]"]
    for name, value in rendered.sideloads:
        parts += [b',"', name.encode(), b'":', value]
    for member in members:
        parts += [b",", member]
    return b"".join([*parts, b"}"])
