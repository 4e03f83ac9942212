"""The admin API's routes: ONE table (method, path, handler, summary, schemas) from which both the Starlette
routes and the OpenAPI document are built, and the handlers it names.

Every call needs ``Authorization: Bearer <admin token>`` (checked for the whole prefix by ``guard.AdminGuard``)
and takes ``?account=NAME`` (default: the default account): the clock, faults, journal, rate limits, seed,
reset and scrub of that account only. It is never reachable with Zendesk credentials, and ``/api/v2/`` never
accepts the admin token. Handlers take the ``Call`` and the ``Controls`` — the process's fault rules and
journals (one per account) and rate limiter, shared with the middleware that acts on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zendesk_export.clock import ClockState
from zendesk_export.server.admin import ui
from zendesk_export.server.admin.guard import OPENAPI_PATH
from zendesk_export.server.admin.openapi import (
    ACCOUNT,
    ACCOUNTS,
    CLOCK,
    INT,
    LIMITS,
    NEW_ACCOUNT,
    OBJECT,
    REQUESTS,
    RULE,
    RULES,
    AdminRoute,
    document,
)
from zendesk_export.server.edge.accounts import ACCOUNT_PREFIX
from zendesk_export.server.edge.faults import AccountFaults, FaultRuleError, parse_rules
from zendesk_export.server.edge.journal import AccountJournals
from zendesk_export.server.edge.ratelimit import LIMIT_FIELDS, SETTING, RateLimiter
from zendesk_export.server.errors import DuplicateAccount, InvalidJSON, InvalidParameter, NoHelpDesk
from zendesk_export.server.http import Call, endpoint, json_response
from zendesk_export.server.model.ids import is_id
from zendesk_export.server.model.scrub import scrub_now
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store import Account, DuplicateRecord

__all__ = ["Controls", "ADMIN_ROUTES", "MAX_SEED", "MAX_TIME", "routes"]

MAX_SEED = 5_000_000
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z: the last instant Zendesk's timestamps can spell


@dataclass(frozen=True)
class Controls:
    """The state the admin API controls, shared with the middleware that acts on it: in the process's memory,
    or in the store when several processes serve the database (``ServerConfig.shared_state``)."""

    faults: AccountFaults
    journals: AccountJournals
    limiter: RateLimiter


def _now(call: Call, account: Account) -> float:
    """The admin call's account's clock (``Call.now`` is the clock of the Host's account)."""
    return account.clock.now(call.ctx.wall())


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
    result = seed_account(call.ctx.store, account.id, count, random_seed, _now(call, account))
    return json_response({"account": account.subdomain, **result})


def scrub(call: Call, controls: Controls) -> Response:
    """`{"ticket_ids": [...]}` (default: every deleted ticket) → scrub those deleted tickets now, as Zendesk does
    30 days after a soft delete. Returns `{"scrubbed": [ids]}`."""
    account = call.admin_account()
    ids = call.json().get("ticket_ids")
    if ids is not None and (not isinstance(ids, list) or not all(is_id(i) for i in ids)):
        raise InvalidParameter("ticket_ids must be a list of ticket ids")
    done = scrub_now(call.ctx.store, account.id, int(_now(call, account)), ids)
    return json_response({"scrubbed": done})


# -- clock: the account's, stored with it ------------------------------------------------------------------
def get_clock(call: Call, controls: Controls) -> Response:
    account = call.admin_account()
    return json_response(account.clock.describe(call.ctx.wall()))


def set_clock(call: Call, controls: Controls) -> Response:
    """`{"freeze_at": EPOCH}`, `{"advance": SECONDS}`, `{"unfreeze": true}` or `{"reset": true}` (several: in
    that order). The clock is stored with the account: every server process sharing the database sees it, and
    a restart keeps it."""
    account = call.admin_account()
    wall = call.ctx.wall()
    changes = _clock_changes(call.json(), wall)

    def change(state: ClockState) -> ClockState:
        for step in changes:
            state = step(state)
        if not 0 <= state.now(wall) <= MAX_TIME or not 0 <= state.limiter_time(wall) <= MAX_TIME:
            raise InvalidParameter(f"the clock must stay between 0 and {MAX_TIME} (year 9999)")
        return state

    return json_response(call.ctx.store.change_clock(account.id, change).describe(wall))


def _clock_changes(data: dict[str, Any], wall: float) -> list[Callable[[ClockState], ClockState]]:
    """The operations a ``POST /__admin/clock`` body asks for, each checked before any is applied."""
    known = ("freeze_at", "advance", "unfreeze", "reset")
    unknown = set(data) - set(known)
    if unknown or not data:
        raise InvalidParameter(f"expected one of {sorted(known)}, got {sorted(data)}")
    steps: list[Callable[[ClockState], ClockState]] = []
    if "freeze_at" in data:
        at = _number(data["freeze_at"], "freeze_at")
        steps.append(lambda s: s.freeze(at, wall))
    if "advance" in data:
        by = _number(data["advance"], "advance")
        steps.append(lambda s: s.advance(by))
    if data.get("unfreeze"):
        steps.append(lambda s: s.unfreeze(wall))
    if data.get("reset"):
        steps.append(lambda s: ClockState())
    return steps


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= MAX_TIME:
        raise InvalidParameter(f"{name} must be a number of seconds between -{MAX_TIME} and {MAX_TIME}")
    return float(value)


# -- faults ---------------------------------------------------------------------------------------------------
def get_faults(call: Call, controls: Controls) -> Response:
    """The active rules, each with how many matching requests it has seen and how often it fired."""
    account = call.admin_account()
    return json_response({"rules": controls.faults.of(account).state()})


def put_faults(call: Call, controls: Controls) -> Response:
    """Replace all rules of the account (a JSON list, or ``{"rules": [...]}``); their counters start at zero."""
    account = call.admin_account()
    try:
        data = orjson.loads(call.body or b"null")
    except orjson.JSONDecodeError:
        raise InvalidJSON() from None
    try:
        rules = parse_rules(data)
    except FaultRuleError as error:
        raise InvalidParameter(str(error)) from None
    injector = controls.faults.of(account)
    injector.replace(rules)
    return json_response({"rules": injector.state()})


def delete_faults(call: Call, controls: Controls) -> Response:
    """Remove every rule of the account."""
    controls.faults.of(call.admin_account()).replace([])
    return json_response({"rules": []})


# -- the request journal ----------------------------------------------------------------------------------
def get_requests(call: Call, controls: Controls) -> Response:
    """The account's journal, newest last (at most its last 1000 requests, whichever server process served
    them)."""
    return json_response({"requests": controls.journals.of(call.admin_account()).entries()})


def delete_requests(call: Call, controls: Controls) -> Response:
    """Empty the account's journal."""
    controls.journals.of(call.admin_account()).clear()
    return json_response({"requests": []})


# -- rate limits ----------------------------------------------------------------------------------------------
def _limits_state(limiter: RateLimiter, account: Account) -> dict[str, Any]:
    limits = limiter.limits(account)
    own = account.settings.get(SETTING) or {}
    return {"account": account.subdomain, "server": limiter.setting, "account_settings": own,
            "effective": {f: getattr(limits, f) for f in sorted(LIMIT_FIELDS)},
            "buckets": [{"name": u.bucket.name, "window_seconds": u.bucket.window, "limit": u.limit, "used": u.count,
                         "remaining": u.remaining, "resets_in": u.reset} for u in limiter.usage(account)]}


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


# -- accounts -------------------------------------------------------------------------------------------------
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_CREDENTIALS = {"token": "api_token", "password": "password", "oauth_token": "oauth_token"}


def _account_json(call: Call, account: Account, tickets: int) -> dict[str, Any]:
    return {"name": account.subdomain, "id": account.id, "default": account.is_default, "tickets": tickets,
            "clock": account.clock.describe(call.ctx.wall()), "api_path": f"{ACCOUNT_PREFIX}{account.subdomain}"}


def list_accounts(call: Call, controls: Controls) -> Response:
    """Every account, oldest (the default) first, with its ticket count and clock."""
    store = call.ctx.store
    return json_response({"accounts": [_account_json(call, a, store.ticket_count(a.id)) for a in store.accounts()]})


def create_account(call: Call, controls: Controls) -> Response:
    """`{"name": "bee", "admin": {"email": …, "token": …, "password": …, "oauth_token": …}}` → a new, empty
    account with that admin (at least one credential), reached with `Host: bee.localhost` or under
    `/__account/bee/`. 409 if the name is taken."""
    name, admin = _new_account(call.json())
    admin["created_at"] = int(call.ctx.wall())  # a new account's clock is wall time
    try:
        account = call.ctx.store.create_account(name, [admin])
    except DuplicateRecord:
        raise DuplicateAccount(name) from None
    return json_response({"account": _account_json(call, account, 0)}, 201)


def delete_account(call: Call, controls: Controls) -> Response:
    """Delete the account and everything in it (the default account stays)."""
    name = call.request.path_params["name"].lower()
    account = call.ctx.store.account(name)
    if account is None:
        raise NoHelpDesk(name)
    if account.is_default:
        raise InvalidParameter("the default account cannot be deleted")
    call.ctx.store.delete_account(account.id)
    controls.faults.drop(account.id)
    controls.journals.drop(account.id)
    call.ctx.logins.clear(account.id)
    return json_response({"deleted": account.subdomain})


def _new_account(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and the admin user's spec of a ``POST /__admin/accounts`` body; InvalidParameter if wrong."""
    unknown = set(data) - {"name", "admin"}
    name, admin = data.get("name"), data.get("admin")
    if unknown or not isinstance(name, str) or not _NAME.fullmatch(name.lower()):
        raise InvalidParameter("expected {\"name\": a subdomain (letters, digits, inner hyphens; at most 63), "
                               "\"admin\": {\"email\", \"token\", \"password\", \"oauth_token\"}}")
    if not isinstance(admin, dict) or set(admin) - {"email", "name", *_CREDENTIALS}:
        raise InvalidParameter("admin must be an object of email, name, token, password, oauth_token")
    if not all(isinstance(v, str) and 0 < len(v) <= 1000 for v in admin.values()):
        raise InvalidParameter("each field of admin must be a non-empty string of at most 1000 characters")
    email = admin.get("email", "")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", email) or len(email) > 254:
        raise InvalidParameter("admin.email must be an email address")
    if not set(admin) & set(_CREDENTIALS):
        raise InvalidParameter("admin needs at least one of token, password, oauth_token")
    spec = {"name": admin.get("name", f"{name.title()} Admin"), "email": email, "role": "admin",
            **{stored: admin[given] for given, stored in _CREDENTIALS.items() if given in admin}}
    return name.lower(), spec


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
    AdminRoute("GET", "/__admin/accounts", list_accounts, "Every account.", ACCOUNTS, scoped=False),
    AdminRoute("POST", "/__admin/accounts", create_account, "Create an account with its admin.",
               {"type": "object", "properties": {"account": ACCOUNT}}, NEW_ACCOUNT, status=201, scoped=False),
    AdminRoute("DELETE", "/__admin/accounts/{name}", delete_account, "Delete an account and all its data.",
               OBJECT, scoped=False),
    AdminRoute("POST", "/__admin/reset", reset, "Empty the account's data; keep its users and credentials.",
               OBJECT),
    AdminRoute("POST", "/__admin/seed", seed, "Add realistic synthetic tickets, spread over time.", OBJECT, _SEED),
    AdminRoute("GET", "/__admin/clock", get_clock, "The account's clock.", CLOCK),
    AdminRoute("POST", "/__admin/clock", set_clock, "Freeze, advance, unfreeze or reset the account's clock.", CLOCK,
               _SET_CLOCK),
    AdminRoute("POST", "/__admin/scrub", scrub,
               "Scrub deleted tickets now (default: all), as Zendesk does 30 days after a soft delete.", _SCRUBBED,
               _SCRUB),
    AdminRoute("GET", "/__admin/faults", get_faults,
               "The account's fault rules, with their counters.", RULES),
    AdminRoute("PUT", "/__admin/faults", put_faults, "Replace the fault rules (a list, or {\"rules\": [...]}).",
               RULES, _PUT_RULES),
    AdminRoute("DELETE", "/__admin/faults", delete_faults, "Remove every fault rule.", RULES),
    AdminRoute("GET", "/__admin/requests", get_requests,
               "The account's request journal, newest last.", REQUESTS),
    AdminRoute("DELETE", "/__admin/requests", delete_requests, "Empty the request journal.", REQUESTS),
    AdminRoute("GET", "/__admin/rate_limits", get_rate_limits, "The account's rate limits.", OBJECT),
    AdminRoute("PUT", "/__admin/rate_limits", put_rate_limits,
               "Set the account's own rate limits; {} restores the server's.", OBJECT, LIMITS),
    AdminRoute("DELETE", "/__admin/rate_limits", delete_rate_limits,
               "Restore the server's limits and empty the account's counters.", OBJECT),
    AdminRoute("GET", OPENAPI_PATH, openapi, "This document (no token needed).", OBJECT, scoped=False),
)


def _bound(handler: AdminHandler, controls: Controls) -> Callable[[Request], Any]:
    def run(call: Call) -> Response:
        return handler(call, controls)

    run.__name__ = handler.__name__
    return endpoint(run)


def routes(controls: Controls) -> list[Route]:
    """The Starlette routes of the table, each handler bound to this app's controls, and the web page's."""
    return [Route(r.path, _bound(r.handler, controls), methods=[r.method]) for r in ADMIN_ROUTES] + ui.ROUTES
