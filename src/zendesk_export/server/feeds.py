"""One implementation of the incremental envelopes for every exported resource.

A ``Feed`` names a store feed (tickets, audits, users, organizations), the response's array key, the export path
and how its items render. ``time_export`` applies the time-based rules of ``incremental`` (also for the sample
endpoint, capped at 50), ``cursor_export`` the cursor rules of ``cursor``. Both hide the last 60 seconds and
build every page with one range query (plus one per sideload): O(page), whatever the account's size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from starlette.responses import Response

from zendesk_export.server.app import Call, raw_json
from zendesk_export.server.cursor import cursor_page, encode_cursor, parse_position
from zendesk_export.server.incremental import (
    VISIBILITY_DELAY,
    next_page_url,
    parse_bool,
    parse_per_page,
    parse_start_time,
    time_page,
)
from zendesk_export.server.store import ExportRow

__all__ = ["Feed", "Rendered", "SAMPLE_LIMIT", "time_export", "cursor_export"]

SAMPLE_LIMIT = 50  # the sample endpoint returns at most 50 items (reference §1.4)


@dataclass(frozen=True)
class Rendered:
    items: list[bytes]  # each item's complete JSON
    sideloads: list[tuple[str, bytes]]  # top-level arrays (name, JSON array)


@dataclass(frozen=True)
class Feed:
    kind: str  # the store feed
    key: str  # the response's array name
    path: str  # the time-based export path (the cursor path adds "/cursor")
    render: Callable[[Call, Sequence[ExportRow]], Rendered]
    prepare: Callable[[Call], None] | None = None  # validation and upkeep before the query (e.g. scrubbing)
    count_first: bool = False  # tickets: `count, end_of_stream, next_page`; others: `next_page, count, …`


def _cutoff(call: Call) -> int:
    return int(call.ctx.clock.now()) - VISIBILITY_DELAY


def _json_bool(value: bool) -> bytes:
    return b"true" if value else b"false"


def _array(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def time_export(call: Call, feed: Feed, *, sample: bool = False) -> Response:
    """`GET <path>?start_time=…` (or `<path>/sample`): the time-based page of a feed."""
    call.caller(admin=True)
    start = parse_start_time(call.params, call.ctx.clock.now())
    if feed.prepare:
        feed.prepare(call)
    per_page = min(parse_per_page(call.params), SAMPLE_LIMIT) if sample else parse_per_page(call.params)
    exclude = parse_bool(call.params, "exclude_deleted")
    store, account_id, cutoff = call.ctx.store, call.account.id, _cutoff(call)
    rows = store.changes(account_id, feed.kind, (start, 0), cutoff, per_page, exclude)
    group = (lambda ts: rows) if sample else (lambda ts: store.changes(account_id, feed.kind, (ts, 0), ts, -1, exclude))
    page = time_page(rows, per_page, group)
    rendered = feed.render(call, page.rows)
    next_page = b"null"
    if page.end_time is not None:
        path = feed.path + "/sample" if sample else feed.path
        url = next_page_url(call.base_url, path, call.params.multi_items(), ("start_time", str(page.end_time)))
        next_page = orjson.dumps(url)
    count = b'"count":' + str(len(page.rows)).encode()
    end = b'"end_of_stream":' + _json_bool(page.end_of_stream)
    link = b'"next_page":' + next_page
    middle = [count, end, link] if feed.count_first else [link, count, end]
    end_time = str(page.end_time).encode() if page.end_time is not None else b"null"
    return raw_json(_envelope(feed.key, rendered, [*middle, b'"end_time":' + end_time]))


def cursor_export(call: Call, feed: Feed) -> Response:
    """`GET <path>/cursor?start_time=…|cursor=…`: the cursor-based page of a feed."""
    call.caller(admin=True)
    position = parse_position(call.params, call.ctx.clock.now())
    if feed.prepare:
        feed.prepare(call)
    per_page = parse_per_page(call.params)
    exclude = parse_bool(call.params, "exclude_deleted")
    rows = call.ctx.store.changes(call.account.id, feed.kind, position, _cutoff(call), per_page + 1, exclude)
    page = cursor_page(rows, per_page, position)
    cursor = encode_cursor(page.after)
    url = next_page_url(call.base_url, feed.path + "/cursor", call.params.multi_items(), ("cursor", cursor))
    tail = [b'"after_url":' + orjson.dumps(url), b'"before_url":null', b'"after_cursor":' + orjson.dumps(cursor),
            b'"before_cursor":null', b'"end_of_stream":' + _json_bool(page.end_of_stream)]
    return raw_json(_envelope(feed.key, feed.render(call, page.rows), tail))


def _envelope(key: str, rendered: Rendered, members: list[bytes]) -> bytes:
    """`{"<key>": [...], <sideload arrays>, <members>}` — sideloads sit right after the items they describe."""
    parts = [b'"' + key.encode() + b'":' + _array(rendered.items)]
    parts += [b'"' + name.encode() + b'":' + value for name, value in rendered.sideloads]
    return b"{" + b",".join(parts + members) + b"}"
