"""Users, organizations and groups API handlers: list, show, create, update, and `users/me`. The rules and the
rendering live in ``model.users``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from zendesk_export.server.errors import ParameterMissing, RecordNotFound
from zendesk_export.server.http import Call, Handler, json_response
from zendesk_export.server.model.users import RENDERERS, SINGULAR, create_record, update_record

__all__ = ["ROUTES"]

_PAGE_MAX = 100


def _payload(call: Call, table: str) -> dict[str, Any]:
    body = call.json().get(SINGULAR[table])
    if not isinstance(body, dict):
        raise ParameterMissing(SINGULAR[table])
    return body


def _one(call: Call, table: str, record: dict[str, Any], status: int = 200) -> Response:
    return json_response({SINGULAR[table]: RENDERERS[table](call.base_url, record)}, status)


def _show(table: str) -> Handler:
    def show(call: Call) -> Response:
        call.caller()
        found = call.ctx.store.records_by_id(call.account.id, table, [call.path_int("record_id")])
        if not found:
            raise RecordNotFound()
        return _one(call, table, found[0])

    show.__name__ = f"show_{table}"
    return show


def _list(table: str) -> Handler:
    """Offset pagination, as Zendesk's list endpoints have: `page`, `per_page` ≤ 100, `next_page`, `count`."""

    def list_records(call: Call) -> Response:
        call.caller()
        per_page = _int_param(call, "per_page", _PAGE_MAX, 1, _PAGE_MAX)
        page = _int_param(call, "page", 1, 1, 10**6)
        records, total = call.ctx.store.list_records(call.account.id, table, (page - 1) * per_page, per_page)
        path = f"{call.base_url}/api/v2/{table}.json?page={{}}&per_page={per_page}"
        body = {table: [RENDERERS[table](call.base_url, r) for r in records],
                "next_page": path.format(page + 1) if page * per_page < total else None,
                "previous_page": path.format(page - 1) if page > 1 else None, "count": total}
        return json_response(body)

    list_records.__name__ = f"list_{table}"
    return list_records


def _int_param(call: Call, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(call.params.get(name, default))))
    except ValueError:
        return default


def _create(table: str) -> Handler:
    def create(call: Call) -> Response:
        actor = call.caller(admin=table != "users")
        record = create_record(call.ctx.store, call.account.id, call.now(), table, _payload(call, table), actor=actor)
        return _one(call, table, record, 201)

    create.__name__ = f"create_{table}"
    return create


def _update(table: str) -> Handler:
    def update(call: Call) -> Response:
        actor = call.caller(admin=table != "users")
        record = update_record(call.ctx.store, call.account.id, call.now(), table, call.path_int("record_id"),
                               _payload(call, table), actor=actor)
        return _one(call, table, record)

    update.__name__ = f"update_{table}"
    return update


def me(call: Call) -> Response:
    """`GET /api/v2/users/me` — the caller (zenpy and most SDKs check credentials with it)."""
    caller = call.caller()
    found = call.ctx.store.records_by_id(call.account.id, "users", [caller.id])
    return _one(call, "users", found[0])


def _record_routes(table: str) -> list[tuple[str, str, Handler]]:
    return [
        ("GET", f"/api/v2/{table}", _list(table)),
        ("POST", f"/api/v2/{table}", _create(table)),
        ("GET", f"/api/v2/{table}/{{record_id:id}}", _show(table)),
        ("PUT", f"/api/v2/{table}/{{record_id:id}}", _update(table)),
    ]


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v2/users/me", me),
    *_record_routes("users"),
    *_record_routes("organizations"),
    *_record_routes("groups"),
]
