"""Search: `GET /api/v2/search` (offset, at most 1000 results), `/api/v2/search/count`, and
`GET /api/v2/search/export` (cursor, one type named by `filter[type]`, ordered newest first). The query language
is ``model.search``; every page is one store query per type searched.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from zendesk_export.server.errors import InvalidPageParameter, InvalidParameter, ParameterMissing, SearchLimit
from zendesk_export.server.export.paging import parse_page
from zendesk_export.server.export.ticket_data import TableSource
from zendesk_export.server.http import Call, Handler, json_response
from zendesk_export.server.model.ids import MAX_ID
from zendesk_export.server.model.search import TABLES, TYPES_SEARCHED, Plan, conditions_of, plan
from zendesk_export.server.model.users import RENDERERS
from zendesk_export.server.resources.operations import SEARCH
from zendesk_export.tickets import ticket_json

__all__ = ["ROUTES"]

RESULT_LIMIT = 1000  # search.json returns at most this many results per query
EXPORT_PAGE_MAX = 1000
_ALWAYS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "ticket": (("status", "!=", "deleted"),), "user": (), "organization": (("deleted_at", "is null", None),)}
_SORTS = {"created_at": "created_at", "updated_at": "updated_at", "status": "status", "priority": "priority",
          "ticket_type": "type"}


def _plan(call: Call) -> Plan:
    query = call.params.get("query")
    if query is None or not query.strip():
        raise ParameterMissing("query")
    found = plan(query, call.now())
    wanted = call.params.get("filter[type]")
    if wanted:
        if wanted not in TYPES_SEARCHED:
            raise InvalidParameter(f"filter[type] must be one of {', '.join(TYPES_SEARCHED)}")
        found.types = tuple(t for t in found.types if t == wanted)
    return found


def _source(call: Call, found: Plan, kind: str, order: tuple[str, bool]) -> TableSource | None:
    conditions = conditions_of(found, kind)
    if conditions is None:
        return None
    column = order[0] if kind == "ticket" or order[0] in ("created_at", "updated_at") else "created_at"
    return TableSource(call.ctx.store, call.account.id, TABLES[kind], [*_ALWAYS[kind], *conditions],
                       (column, order[1]))


def _render(call: Call, kind: str, row: dict[str, Any]) -> dict[str, Any]:
    if kind == "ticket":
        item = orjson.loads(ticket_json(call.base_url, row["id"], row["body"]))
    else:
        item = RENDERERS[TABLES[kind]](call.base_url, row)
    return {**item, "result_type": kind}


def _order(call: Call) -> tuple[str, bool]:
    column = _SORTS.get(call.params.get("sort_by", ""), "created_at")
    return column, call.params.get("sort_order", "desc") != "asc"


def search(call: Call) -> Response:
    """`GET /api/v2/search?query=…` → `{results, facets, next_page, previous_page, count}`; tickets first, then
    users, then organizations."""
    call.caller()
    found = _plan(call)
    request = parse_page(call.params, "id", styles=("offset",))
    if request.page * request.size > RESULT_LIMIT:
        raise SearchLimit()
    sources = [(kind, s) for kind in found.types if (s := _source(call, found, kind, _order(call))) is not None]
    start, wanted, results, total = (request.page - 1) * request.size, request.size, [], 0
    for kind, source in sources:
        count = source.total()
        if wanted > 0 and start < total + count:
            rows = source.offset(max(0, start - total), wanted)
            results += [_render(call, kind, r) for r in rows]
            wanted -= len(rows)
        total += count
    url = f"{call.base_url}{call.request.url.path}"
    links = _offset_links(url, call.params.multi_items(), request.page, request.size, min(total, RESULT_LIMIT))
    return json_response({"results": results, "facets": None, **links, "count": total})


def _offset_links(url: str, params: list[tuple[str, str]], number: int, size: int, total: int) -> dict[str, Any]:
    json_url = url if url.endswith(".json") else url + ".json"
    kept = {k: v for k, v in params if k != "page"}

    def link(page: int) -> str:
        return f"{json_url}?{urlencode(sorted({**kept, 'page': str(page)}.items()))}"

    return {"next_page": link(number + 1) if number * size < total else None,
            "previous_page": link(number - 1) if number > 1 else None}


def count(call: Call) -> Response:
    """`GET /api/v2/search/count?query=…` → `{"count": n}`."""
    call.caller()
    found = _plan(call)
    sources = [s for kind in found.types if (s := _source(call, found, kind, ("created_at", True))) is not None]
    return json_response({"count": sum(s.total() for s in sources)})


def export(call: Call) -> Response:
    """`GET /api/v2/search/export?query=…&filter[type]=…` → `{results, facets, meta, links}`, newest first;
    `links.prev` and `before_cursor` are always null, as Zendesk's are."""
    call.caller()
    if not call.params.get("filter[type]"):
        raise ParameterMissing("filter[type]")
    found = _plan(call)
    kind = found.types[0] if found.types else ""
    params = {k: v for k, v in call.params.items() if k != "page[after]"}
    request = parse_page(params, "created_at", styles=("cursor",), max_size=EXPORT_PAGE_MAX)
    source = _source(call, found, kind, ("created_at", True)) if kind else None
    after = _decode(call.params.get("page[after]"))
    rows = source.after(after, request.size + 1) if source else []
    more, rows = len(rows) > request.size, rows[: request.size]
    cursor = _encode(rows[-1]["created_at"], rows[-1]["id"]) if rows else None
    url = f"{call.base_url}{call.request.url.path}"
    kept = [(k, v) for k, v in call.params.multi_items() if k not in ("page[after]", "page[size]")]
    kept += [("page[size]", str(request.size))]
    next_link = None
    if more and cursor:
        next_link = f"{url}?{urlencode(sorted(dict(kept + [('page[after]', cursor)]).items()))}"
    return json_response({"results": [_render(call, kind, r) for r in rows], "facets": None,
                          "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
                          "links": {"prev": None, "next": next_link}})


def _encode(created_at: int, item_id: int) -> str:
    """Zendesk's export cursor form: base64 JSON naming the sort and the last result's sort values."""
    token = {"field": "created_at", "desc": True, "tieBreakField": "id", "tieBreakDesc": False,
             "sortValues": [created_at * 1000, item_id]}
    return base64.b64encode(orjson.dumps(token)).decode()


def _decode(token: str | None) -> tuple[int, int] | None:
    if not token:
        return None
    try:
        values = orjson.loads(base64.b64decode(token, validate=True))["sortValues"]
        created, item_id = int(values[0]) // 1000, int(values[1])
        if not (0 <= created <= MAX_ID and 0 <= item_id <= MAX_ID):
            raise ValueError(values)
    except (ValueError, binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, IndexError):
        raise InvalidPageParameter("page[after] is not valid") from None
    return created, item_id


_HANDLERS: dict[str, Handler] = {"search": search, "count": count, "export": export}
# The routes are the declared operations (``resources.operations``), each bound to its handler by name.
ROUTES: list[tuple[str, str, Handler]] = [(op.method, op.path, _HANDLERS[op.name]) for op in SEARCH]
