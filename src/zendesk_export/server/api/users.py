"""Users, organizations and groups API handlers: show, create, update, and `users/me` (their lists, in both
paging styles, are the generic ones of ``api.resources``). The rules and the rendering live in ``model.users``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from zendesk_export.server.errors import ParameterMissing, RecordNotFound
from zendesk_export.server.http import Call, Handler, json_response
from zendesk_export.server.model.users import RENDERERS, SINGULAR, create_record, update_record

__all__ = ["ROUTES"]


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
