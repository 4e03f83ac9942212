"""The admin API's routes: ONE table (method, path, handler, summary, schemas) from which both the Starlette
routes and the OpenAPI document are built, and the handlers it names.

Every call needs ``Authorization: Bearer <admin token>`` (checked for the whole prefix by ``guard.AdminGuard``)
and takes ``?account=NAME`` (default: the default account). It is never reachable with Zendesk credentials, and
``/api/v2/`` never accepts the admin token. Handlers take the ``Call`` and the ``Controls`` — the process's fault
injector, journal and rate limiter, shared with the middleware that acts on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zendesk_export.clock import Clock
from zendesk_export.server.admin.guard import OPENAPI_PATH
from zendesk_export.server.admin.openapi import CLOCK, INT, LIMITS, OBJECT, REQUESTS, RULE, RULES, AdminRoute, document
from zendesk_export.server.edge.faults import FaultInjector, FaultRuleError, parse_rules
from zendesk_export.server.edge.journal import Journal
from zendesk_export.server.edge.ratelimit import LIMIT_FIELDS, SETTING, RateLimiter
from zendesk_export.server.errors import InvalidJSON, InvalidParameter
from zendesk_export.server.http import Call, endpoint, json_response
from zendesk_export.server.model.ids import is_id
from zendesk_export.server.model.scrub import scrub_now
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store import Account

__all__ = ["Controls", "ADMIN_ROUTES", "MAX_SEED", "routes"]

MAX_SEED = 5_000_000


@dataclass(frozen=True)
class Controls:
    """The per-process state the admin API controls, shared with the middleware that acts on it."""

    faults: FaultInjector
    journal: Journal
    limiter: RateLimiter


AdminHandler = Callable[[Call, Controls], Response]


# -- data: reset, seed, scrub -------------------------------------------------------------------------------
def _int_field(data: dict[str, Any], name: str, default: int | None = None, maximum: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (maximum and value > maximum):
        raise InvalidParameter(f"{name} must be an integer between 0 and {maximum or 'any'}")
    return value


def reset(call: Call, controls: Controls) -> Response:
    """Empty the account's tickets and audits (and seeded users); keep the users that have credentials."""
    account = call.admin_account()
    call.ctx.store.reset(account.id)
    call.ctx.store.clear_rate_counters(account.id)
    call.ctx.logins.clear(account.id)
    return json_response({"reset": account.subdomain})


def seed(call: Call, controls: Controls) -> Response:
    """`{"tickets": N, "random_seed": S}` → realistic synthetic tickets spread over the last six months."""
    account = call.admin_account()
    data = call.json()
    count = _int_field(data, "tickets", maximum=MAX_SEED)
    random_seed = _int_field(data, "random_seed", default=0)
    result = seed_account(call.ctx.store, account.id, count, random_seed, call.ctx.clock.now())
    return json_response({"account": account.subdomain, **result})


def scrub(call: Call, controls: Controls) -> Response:
    """`{"ticket_ids": [...]}` (default: every deleted ticket) → scrub those deleted tickets now, as Zendesk does
    30 days after a soft delete. Returns `{"scrubbed": [ids]}`."""
    account = call.admin_account()
    ids = call.json().get("ticket_ids")
    if ids is not None and (not isinstance(ids, list) or not all(is_id(i) for i in ids)):
        raise InvalidParameter("ticket_ids must be a list of ticket ids")
    done = scrub_now(call.ctx.store, account.id, call.now(), ids)
    return json_response({"scrubbed": done})


# -- clock ----------------------------------------------------------------------------------------------------
def get_clock(call: Call, controls: Controls) -> Response:
    call.admin_account()
    return json_response(call.ctx.clock.state())


def set_clock(call: Call, controls: Controls) -> Response:
    """`{"freeze_at": EPOCH}`, `{"advance": SECONDS}`, `{"unfreeze": true}` or `{"reset": true}`."""
    call.admin_account()
    data = call.json()
    clock = call.ctx.clock
    actions: dict[str, Callable[[Any], None]] = {
        "freeze_at": lambda v: clock.freeze(_moment(_number(v, "freeze_at"), "freeze_at")),
        "advance": lambda v: _advance(clock, _number(v, "advance")),
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


MAX_MOMENT = 253_402_300_799  # 9999-12-31T23:59:59Z: the last moment Zendesk's time format can write


def _moment(at: float, name: str) -> float:
    """A clock time the server can write in every timestamp it renders; a clock beyond would break them all."""
    if not 0 <= at <= MAX_MOMENT:
        raise InvalidParameter(f"{name} must leave the clock between 0 and {MAX_MOMENT} (epoch seconds)")
    return at


def _advance(clock: Clock, seconds: float) -> None:
    _moment(clock.now() + seconds, "advance")
    clock.advance(seconds)


# -- faults ---------------------------------------------------------------------------------------------------
def get_faults(call: Call, controls: Controls) -> Response:
    """The active rules, each with how many matching requests it has seen and how often it fired."""
    call.admin_account()
    return json_response({"rules": controls.faults.state()})


def put_faults(call: Call, controls: Controls) -> Response:
    """Replace all rules (a JSON list, or ``{"rules": [...]}``); their counters start at zero."""
    call.admin_account()
    try:
        data = orjson.loads(call.body or b"null")
    except orjson.JSONDecodeError:
        raise InvalidJSON() from None
    try:
        rules = parse_rules(data)
    except FaultRuleError as error:
        raise InvalidParameter(str(error)) from None
    controls.faults.replace(rules)
    return json_response({"rules": controls.faults.state()})


def delete_faults(call: Call, controls: Controls) -> Response:
    """Remove every rule."""
    call.admin_account()
    controls.faults.replace([])
    return json_response({"rules": []})


# -- the request journal ----------------------------------------------------------------------------------
def get_requests(call: Call, controls: Controls) -> Response:
    """The journal, newest last (at most the last 1000 requests to this server process)."""
    call.admin_account()
    return json_response({"requests": controls.journal.entries()})


def delete_requests(call: Call, controls: Controls) -> Response:
    """Empty the journal."""
    call.admin_account()
    controls.journal.clear()
    return json_response({"requests": []})


# -- rate limits ----------------------------------------------------------------------------------------------
def _limits_state(limiter: RateLimiter, account: Account) -> dict[str, Any]:
    limits = limiter.limits(account)
    own = account.settings.get(SETTING) or {}
    return {"account": account.subdomain, "server": limiter.setting, "account_settings": own,
            "effective": {f: getattr(limits, f) for f in sorted(LIMIT_FIELDS)}}


def _set_limits(call: Call, account: Account, settings: dict[str, Any]) -> Account:
    """Store the account's own settings (``{}``: none); the account as now stored."""
    call.ctx.store.set_account_setting(account.id, SETTING, settings or None)
    updated = call.ctx.store.account(account.subdomain)
    assert updated is not None
    return updated


def get_rate_limits(call: Call, controls: Controls) -> Response:
    """The account's effective limits, its own settings and the server's default."""
    return json_response(_limits_state(controls.limiter, call.admin_account()))


def put_rate_limits(call: Call, controls: Controls) -> Response:
    """Replace the account's own settings: any of enabled, high_volume (bools), plan_limit, incremental,
    users_cursor, sample (positive integers). ``{}`` goes back to the server's default."""
    account = call.admin_account()
    return json_response(_limits_state(controls.limiter, _set_limits(call, account, _valid_limits(call.json()))))


def delete_rate_limits(call: Call, controls: Controls) -> Response:
    """Back to the server's default limits, with empty counters (the fixture does this before every test)."""
    account = call.admin_account()
    updated = _set_limits(call, account, {})
    call.ctx.store.clear_rate_counters(account.id)
    return json_response(_limits_state(controls.limiter, updated))


def _valid_limits(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - LIMIT_FIELDS
    if unknown:
        raise InvalidParameter(f"unknown rate-limit settings {sorted(unknown)}; "
                               f"expected some of {sorted(LIMIT_FIELDS)}")
    for key, value in data.items():
        boolean = key in ("enabled", "high_volume")
        valid = isinstance(value, bool) if boolean else (type(value) is int and value > 0)
        if not valid:
            raise InvalidParameter(f"{key} must be {'true or false' if boolean else 'a positive integer'}")
    return dict(data)


# -- the document ---------------------------------------------------------------------------------------------
def openapi(call: Call, controls: Controls) -> Response:
    """The OpenAPI 3 document of the admin API."""
    return json_response(document(ADMIN_ROUTES))


_SEED = {"type": "object", "properties": {"tickets": {"type": "integer"}, "random_seed": {"type": "integer"}},
         "required": ["tickets"]}
_SET_CLOCK = {"type": "object", "properties": {"freeze_at": {"type": "number"}, "advance": {"type": "number"},
                                               "unfreeze": {"type": "boolean"}, "reset": {"type": "boolean"}}}
_SCRUBBED = {"type": "object", "properties": {"scrubbed": {"type": "array", "items": INT}}}
_SCRUB = {"type": "object", "properties": {"ticket_ids": {"type": "array", "items": INT}}}
_PUT_RULES = {"oneOf": [{"type": "array", "items": RULE}, RULES]}

ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("POST", "/__admin/reset", reset, "Empty the account's data; keep its users and credentials.",
               OBJECT),
    AdminRoute("POST", "/__admin/seed", seed, "Add realistic synthetic tickets, spread over time.", OBJECT, _SEED),
    AdminRoute("GET", "/__admin/clock", get_clock, "The server clock.", CLOCK),
    AdminRoute("POST", "/__admin/clock", set_clock, "Freeze, advance, unfreeze or reset the server clock.", CLOCK,
               _SET_CLOCK),
    AdminRoute("POST", "/__admin/scrub", scrub,
               "Scrub deleted tickets now (default: all), as Zendesk does 30 days after a soft delete.", _SCRUBBED,
               _SCRUB),
    AdminRoute("GET", "/__admin/faults", get_faults, "The fault rules of this server process, with their counters.",
               RULES),
    AdminRoute("PUT", "/__admin/faults", put_faults, "Replace the fault rules (a list, or {\"rules\": [...]}).",
               RULES, _PUT_RULES),
    AdminRoute("DELETE", "/__admin/faults", delete_faults, "Remove every fault rule.", RULES),
    AdminRoute("GET", "/__admin/requests", get_requests, "The request journal of this server process, newest last.",
               REQUESTS),
    AdminRoute("DELETE", "/__admin/requests", delete_requests, "Empty the request journal.", REQUESTS),
    AdminRoute("GET", "/__admin/rate_limits", get_rate_limits, "The account's rate limits.", OBJECT),
    AdminRoute("PUT", "/__admin/rate_limits", put_rate_limits,
               "Set the account's own rate limits; {} restores the server's.", OBJECT, LIMITS),
    AdminRoute("DELETE", "/__admin/rate_limits", delete_rate_limits,
               "Restore the server's limits and empty the account's counters.", OBJECT),
    AdminRoute("GET", OPENAPI_PATH, openapi, "This document (no token needed).", OBJECT),
)


def _bound(handler: AdminHandler, controls: Controls) -> Callable[[Request], Any]:
    def run(call: Call) -> Response:
        return handler(call, controls)

    run.__name__ = handler.__name__
    return endpoint(run)


def routes(controls: Controls) -> list[Route]:
    """The Starlette routes of the table, each handler bound to this app's controls."""
    return [Route(r.path, _bound(r.handler, controls), methods=[r.method]) for r in ADMIN_ROUTES]
