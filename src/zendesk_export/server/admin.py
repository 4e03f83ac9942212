"""The admin API under ``/__admin/``: test controls that real Zendesk does not have.

Every call needs ``Authorization: Bearer <admin token>`` (checked for the whole prefix by
``admin_openapi.AdminGuard``) and takes ``?account=NAME`` (default: the default account). It is never reachable
with Zendesk credentials, and ``/api/v2/`` never accepts the admin token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from zendesk_export.server import admin_openapi, faults, journal, ratelimit
from zendesk_export.server.app import Call, endpoint, json_response
from zendesk_export.server.errors import InvalidParameter
from zendesk_export.server.scrub import scrub_now
from zendesk_export.server.seed import seed_account

__all__ = ["routes", "ADMIN_ROUTES"]

MAX_SEED = 5_000_000


def _int_field(data: dict[str, Any], name: str, default: int | None = None, maximum: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (maximum and value > maximum):
        raise InvalidParameter(f"{name} must be an integer between 0 and {maximum or 'any'}")
    return value


def reset(call: Call) -> Response:
    """Empty the account's tickets and audits (and seeded users); keep the users that have credentials."""
    account = call.admin_account()
    call.ctx.store.reset(account.id)
    for hook in call.ctx.extras.get("on_reset", []):
        hook(account)
    return json_response({"reset": account.subdomain})


def seed(call: Call) -> Response:
    """`{"tickets": N, "random_seed": S}` → realistic synthetic tickets spread over the last six months."""
    account = call.admin_account()
    data = call.json()
    count = _int_field(data, "tickets", maximum=MAX_SEED)
    random_seed = _int_field(data, "random_seed", default=0)
    result = seed_account(call.ctx.store, account.id, count, random_seed, call.ctx.clock.now())
    return json_response({"account": account.subdomain, **result})


def get_clock(call: Call) -> Response:
    call.admin_account()
    return json_response(call.ctx.clock.state())


def set_clock(call: Call) -> Response:
    """`{"freeze_at": EPOCH}`, `{"advance": SECONDS}`, `{"unfreeze": true}` or `{"reset": true}`."""
    call.admin_account()
    data = call.json()
    clock = call.ctx.clock
    actions: dict[str, Callable[[Any], None]] = {
        "freeze_at": lambda v: clock.freeze(_number(v, "freeze_at")),
        "advance": lambda v: clock.advance(_number(v, "advance")),
        "unfreeze": lambda v: clock.unfreeze() if v else None,
        "reset": lambda v: clock.reset() if v else None,
    }
    unknown = set(data) - set(actions)
    if unknown or not data:
        raise InvalidParameter(f"expected one of {sorted(actions)}, got {sorted(data)}")
    for key, value in data.items():
        actions[key](value)
    return json_response(clock.state())


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{name} must be a number")
    return float(value)


def scrub(call: Call) -> Response:
    """`{"ticket_ids": [...]}` (default: every deleted ticket) → scrub those deleted tickets now, as Zendesk does
    30 days after a soft delete. Returns `{"scrubbed": [ids]}`."""
    account = call.admin_account()
    ids = call.json().get("ticket_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise InvalidParameter("ticket_ids must be a list of ticket ids")
    done = scrub_now(call.ctx.store, account.id, int(call.ctx.clock.now()), ids)
    return json_response({"scrubbed": done})


ADMIN_ROUTES: list[tuple[str, str, Callable[[Call], Response]]] = [
    ("POST", "/__admin/reset", reset),
    ("POST", "/__admin/seed", seed),
    ("GET", "/__admin/clock", get_clock),
    ("POST", "/__admin/clock", set_clock),
    ("POST", "/__admin/scrub", scrub),
    ("GET", "/__admin/faults", faults.get_faults),
    ("PUT", "/__admin/faults", faults.put_faults),
    ("DELETE", "/__admin/faults", faults.delete_faults),
    ("GET", "/__admin/requests", journal.get_requests),
    ("DELETE", "/__admin/requests", journal.delete_requests),
    ("GET", "/__admin/rate_limits", ratelimit.get_rate_limits),
    ("PUT", "/__admin/rate_limits", ratelimit.put_rate_limits),
    ("DELETE", "/__admin/rate_limits", ratelimit.delete_rate_limits),
    ("GET", "/__admin/openapi.json", admin_openapi.openapi),  # the one route without a token
]


def routes() -> list[Route]:
    return [Route(path, endpoint(handler), methods=[method]) for method, path, handler in ADMIN_ROUTES]

