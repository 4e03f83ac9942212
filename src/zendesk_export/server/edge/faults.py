"""Fault injection: the network and edge failures real Zendesk cannot produce on demand (README, "The admin API").

``PUT /__admin/faults`` takes a list of rules (or ``serve --faults rules.json`` at start)::

    {"match": {"method": "GET", "path": "/api/v2/incremental/*", "account": "example"},
     "action": {"status": 503, "headers": {"Retry-After": "7"}, "body": "<html>…</html>"},
     "every": 3, "times": 1}

``match`` (all optional): method, path (a glob; ``*`` also spans ``/``; Zendesk's ``.json`` suffix is ignored),
account (subdomain). ``action``: ``status`` (+ ``headers``, ``body``: JSON, or a string sent as HTML or text;
a 429 without body gets the recorded ``APIRateLimitExceeded`` body), ``drop`` (``before_body``: status and
headers, then the connection closes; ``mid_body``: half the body, then it closes), ``truncate`` (a complete
response whose body is the first half of the real one), ``malformed`` (the real body with a trailing comma),
``empty_page`` (a Zendesk-shaped empty page with ``end_of_stream: false`` pointing at the same request again).
``latency_ms`` (a number, ``{"min", "max"}`` uniform or ``{"mean"}`` exponential) delays the request and may be
combined with any of them. Triggers combine: ``every`` N (the Nth, 2Nth… matching request), ``probability`` P
drawn from a ``random.Random(seed)`` of the rule (default seed 0), ``times`` N (at most N firings; ``"times": 2``
alone is "the next two"). Rules are tried in order; the first that fires acts, later rules do not see the
request. Reproducible: the same requests in the same order meet the same faults.

Faults act before authentication and rate limits (they simulate the network between client and Zendesk):
a status or empty page never reaches the API, so it is neither authenticated nor counted. Drops, truncation and
malformed bodies mangle the real response on its way out, so that request did reach the API (and counts, as a
real response lost on the wire does). ``/__admin/`` is never faulted, so a test can always clear the rules.

Rules belong to an account: ``PUT /__admin/faults?account=NAME`` sets that account's rules, and they never act
on another account's requests (nor on requests for an account that does not exist). Rules loaded at start
(``serve --faults``) are given to every account, each with its own counters; ``match.account`` keeps one to an
account.

Where the state lives: with one server process, in its memory (``FaultInjectors``: rules, counters, random
generators). With several on one database (``serve --workers N``), in the store (``shared_faults``), so that a
rule set through any process acts on the next matching request whichever process receives it, and its
triggers count the requests of all of them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.server.edge.ratelimit import INCREMENTAL
from zendesk_export.server.errors import RateLimitExceeded
from zendesk_export.server.http import ACCOUNT_KEY, BASE_PATH_KEY, json_response, safe_host
from zendesk_export.server.model.ids import ascii_digits
from zendesk_export.server.store import Account

__all__ = ["FaultRuleError", "Rule", "Fired", "FaultInjector", "FaultInjectors", "AccountFaults", "Faults",
           "ConnectionDropped", "parse_rules", "load_rules_file", "hide_injected_drops", "FAULT_KEY"]

FAULT_KEY = "zendesk_export.fault"  # scope key: the fault applied to this request, for the journal
KINDS = ("status", "drop", "truncate", "malformed", "empty_page")
DROPS = ("before_body", "mid_body")


class FaultRuleError(ValueError):
    """A rule that does not say what to match, how to act or when."""


class ConnectionDropped(Exception):
    """Raised inside the ASGI app after the response started: the server closes the connection."""


# -- rules ----------------------------------------------------------------------------------------------------

@dataclass
class Action:
    kind: str | None  # one of KINDS, or None: only a delay
    latency: Mapping[str, float] | float | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: str = "before_body"


@dataclass
class Rule:
    spec: dict[str, Any]
    match: dict[str, str]
    action: Action
    times: int | None = None
    every: int | None = None
    probability: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str, account: Callable[[], str]) -> bool:
        want = self.match
        if "method" in want and want["method"].upper() != method.upper():
            return False
        if "path" in want and not (fnmatchcase(path, want["path"])
                                   or fnmatchcase(path.removesuffix(".json"), want["path"])):
            return False
        return "account" not in want or want["account"].lower() == account()

    def fires(self) -> bool:
        """Advance this rule's trigger by one matching request; True when it acts on it."""
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def delay(self) -> float:
        """Seconds to wait, drawn from the rule's generator for a distribution."""
        latency = self.action.latency
        if latency is None:
            return 0.0
        if not isinstance(latency, Mapping):
            return float(latency) / 1000
        if "mean" in latency:
            return self.rng.expovariate(1 / latency["mean"]) / 1000 if latency["mean"] > 0 else 0.0
        return self.rng.uniform(latency["min"], latency["max"]) / 1000

    def state(self) -> dict[str, Any]:
        return {**self.spec, "seen": self.seen, "fired": self.fired}


def parse_rules(data: Any) -> list[Rule]:
    """A list of rule objects (or ``{"rules": [...]}``) → rules; FaultRuleError names the first problem."""
    if isinstance(data, dict) and set(data) == {"rules"}:
        data = data["rules"]
    if not isinstance(data, list):
        raise FaultRuleError("faults must be a list of rules")
    return [_rule(spec, i) for i, spec in enumerate(data)]


def load_rules_file(path: str | Path) -> list[dict[str, Any]]:
    """The rules of a JSON file (``serve --faults``), validated."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise FaultRuleError(f"cannot read fault rules from {path}: {error}") from None
    rules = parse_rules(data)
    return [rule.spec for rule in rules]


def _rule(spec: Any, index: int) -> Rule:
    where = f"rule {index}"
    if not isinstance(spec, dict):
        raise FaultRuleError(f"{where}: a rule is an object")
    _only(spec, {"match", "action", "times", "every", "probability", "seed"}, where)
    match = spec.get("match", {})
    if not isinstance(match, dict) or not all(isinstance(v, str) for v in match.values()):
        raise FaultRuleError(f"{where}: match is an object of strings")
    _only(match, {"method", "path", "account"}, f"{where}.match")
    seed = spec.get("seed", 0)
    if not isinstance(seed, int | str) or isinstance(seed, bool):
        raise FaultRuleError(f"{where}: seed is an integer or a string")
    return Rule(
        spec=spec, match=match, action=_action(spec.get("action"), where),
        times=_count(spec, "times", where), every=_count(spec, "every", where),
        probability=_probability(spec.get("probability"), where), rng=random.Random(seed),
    )


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise FaultRuleError(f"{where}: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")


def _count(spec: Mapping[str, Any], name: str, where: str) -> int | None:
    value = spec.get(name)
    if value is not None and (type(value) is not int or value < 1):
        raise FaultRuleError(f"{where}: {name} must be a positive integer")
    return value


def _probability(value: Any, where: str) -> float | None:
    if value is not None and (not _number(value) or not 0 <= value <= 1):
        raise FaultRuleError(f"{where}: probability must be a number between 0 and 1")
    probability: float | None = value
    return probability


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _action(spec: Any, where: str) -> Action:
    where = f"{where}.action"
    if not isinstance(spec, dict) or not spec:
        raise FaultRuleError(f"{where}: an action is a non-empty object")
    _only(spec, {"status", "headers", "body", "latency_ms", "drop", "truncate", "malformed", "empty_page"}, where)
    kinds = [k for k in KINDS if k in spec and spec[k] is not False]
    if len(kinds) > 1:
        raise FaultRuleError(f"{where}: one of {list(KINDS)} at a time, got {kinds}")
    action = Action(kinds[0] if kinds else None, _latency(spec.get("latency_ms"), where))
    if action.kind == "status":
        action.status, action.headers, action.body = _status(spec, where)
    elif "headers" in spec or "body" in spec:
        raise FaultRuleError(f"{where}: headers and body go with a status")
    if action.kind == "drop":
        if spec["drop"] not in DROPS:
            raise FaultRuleError(f"{where}: drop is one of {list(DROPS)}")
        action.drop = spec["drop"]
    if action.kind in ("truncate", "malformed", "empty_page") and spec[action.kind] is not True:
        raise FaultRuleError(f"{where}: {action.kind} takes true")
    if action.kind is None and action.latency is None:
        raise FaultRuleError(f"{where}: nothing to do")
    return action


def _status(spec: Mapping[str, Any], where: str) -> tuple[int, dict[str, str], Any]:
    status, headers = spec["status"], spec.get("headers", {})
    if type(status) is not int or not 100 <= status <= 599:
        raise FaultRuleError(f"{where}: status must be an HTTP status code")
    if not isinstance(headers, dict) or not all(isinstance(v, str | int) for v in headers.values()):
        raise FaultRuleError(f"{where}: headers is an object of strings")
    return status, {str(k): str(v) for k, v in headers.items()}, spec.get("body")


def _latency(value: Any, where: str) -> Mapping[str, float] | float | None:
    latency: Mapping[str, float] | float | None = value
    if value is None or (_number(value) and value >= 0):
        return latency
    valid = isinstance(value, dict) and all(_number(v) and v >= 0 for v in value.values())
    if valid and (set(value) == {"mean"} or (set(value) == {"min", "max"} and value["min"] <= value["max"])):
        return latency
    raise FaultRuleError(f"{where}: latency_ms is milliseconds, {{'min', 'max'}} or {{'mean'}}")


# -- the injector: rules and their state, shared by the middleware and the admin API ---------------------

@dataclass(frozen=True)
class Fired:
    index: int
    action: Action
    delay: float

    def describe(self) -> dict[str, Any]:
        kind = self.action.kind or "latency"
        described: dict[str, Any] = {"rule": self.index, "kind": kind, "latency_ms": round(self.delay * 1000, 3)}
        if kind in ("status", "drop"):
            described[kind] = getattr(self.action, kind)
        return described


class FaultInjector:
    """The process's rules. A lock keeps triggers exact when requests and admin calls interleave."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self._rules = rules or []
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def replace(self, rules: list[Rule]) -> None:
        with self._lock:
            self._rules = rules

    def state(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.state() for rule in self._rules]

    def pick(self, method: str, path: str, account: Callable[[], str]) -> Fired | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.matches(method, path, account) and rule.fires():
                    return Fired(index, rule.action, rule.delay())
        return None


class FaultInjectors:
    """The rules of each account in this process's memory, made on its first request (with a fresh copy of the
    rules given at start), dropped with the account. Thread-safe."""

    shared = False

    def __init__(self, initial: list[dict[str, Any]] | None = None) -> None:
        self.initial = list(initial or [])
        parse_rules(self.initial)  # refuse bad rules at start, not at the first request
        self._injectors: dict[int, FaultInjector] = {}
        self._lock = threading.Lock()

    def of(self, account: Account) -> FaultInjector:
        with self._lock:
            injector = self._injectors.get(account.id)
            if injector is None:
                injector = self._injectors[account.id] = FaultInjector(parse_rules(self.initial))
            return injector

    def drop(self, account_id: int) -> None:
        with self._lock:
            self._injectors.pop(account_id, None)


class Injector(Protocol):
    @property
    def active(self) -> bool: ...

    def replace(self, rules: list[Rule]) -> None: ...

    def state(self) -> list[dict[str, Any]]: ...

    def pick(self, method: str, path: str, account: Callable[[], str]) -> Fired | None: ...


class AccountFaults(Protocol):
    """Either kind: ``FaultInjectors`` (one process) or ``shared_faults.SharedFaultInjectors`` (several)."""

    shared: bool

    def of(self, account: Account) -> Injector: ...

    def drop(self, account_id: int) -> None: ...


# -- acting on a request -------------------------------------------------------------------------------------

class Faults:
    """Pure-ASGI middleware, outside the API's own: picks a rule of the request's account and acts."""

    def __init__(self, app: ASGIApp, injectors: AccountFaults) -> None:
        self.app = app
        self.injectors = injectors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        account: Account | None = scope.get(ACCOUNT_KEY)
        if scope["type"] != "http" or scope["path"].startswith("/__admin/") or account is None:
            await self.app(scope, receive, send)
            return
        injector = self.injectors.of(account)
        fired = await self._pick(injector, scope, account) if injector.active else None
        if fired is None:
            await self.app(scope, receive, send)
            return
        scope[FAULT_KEY] = fired.describe()
        if fired.delay:
            await asyncio.sleep(fired.delay)
        await _ACTIONS[fired.action.kind](self.app, fired.action, scope, receive, send)


    async def _pick(self, injector: Injector, scope: Scope, account: Account) -> Fired | None:
        method, path = scope["method"], scope["path"]
        if self.injectors.shared:  # shared rules may write their counters to the store: off the event loop
            return await run_in_threadpool(injector.pick, method, path, lambda: account.subdomain)
        return injector.pick(method, path, lambda: account.subdomain)


Act = Callable[[ASGIApp, Action, Scope, Receive, Send], Awaitable[None]]


def _host(scope: Scope) -> str:
    host: bytes = dict(scope["headers"]).get(b"host", b"")
    return host.decode("latin-1")


async def _pass(app: ASGIApp, action: Action, scope: Scope, receive: Receive, send: Send) -> None:
    await app(scope, receive, send)


async def _status_response(app: ASGIApp, action: Action, scope: Scope, receive: Receive, send: Send) -> None:
    body = action.body
    if body is None and action.status == 429:
        body = RateLimitExceeded(1, INCREMENTAL.description).body()
    if body is None:
        response = Response(b"", action.status, action.headers)
    elif isinstance(body, str):
        html = body.lstrip().startswith("<")
        media = "text/html; charset=utf-8" if html else "text/plain; charset=utf-8"
        response = Response(body.encode(), action.status, action.headers, media_type=media)
    else:
        response = json_response(body, action.status, action.headers)
    await response(scope, receive, send)


async def _empty_page(app: ASGIApp, action: Action, scope: Scope, receive: Receive, send: Send) -> None:
    await json_response(empty_page(scope))(scope, receive, send)


def empty_page(scope: Scope) -> dict[str, Any]:
    """An empty page of the requested export that is not the end: the cursor or time-based envelope, pointing
    at the same request again (so a correct client asks again rather than stopping)."""
    path = scope["path"].removesuffix(".json")
    resource = path.split("/incremental/", 1)[-1].split("/")[0] if "/incremental/" in path else path.rsplit("/")[-1]
    query = scope["query_string"].decode("latin-1")
    base = scope.get(BASE_PATH_KEY, "")
    url = f"{scope['scheme']}://{safe_host(_host(scope))}{base}{scope['path']}" + (f"?{query}" if query else "")
    params = dict(parse_qsl(query))
    if path.endswith("/cursor"):
        return {resource: [], "after_url": url, "after_cursor": params.get("cursor"), "before_url": None,
                "before_cursor": None, "end_of_stream": False}
    start = params.get("start_time", "")
    end_time = int(start) if ascii_digits(start) else None
    return {resource: [], "count": 0, "end_of_stream": False, "next_page": url, "end_time": end_time}


async def _drop(app: ASGIApp, action: Action, scope: Scope, receive: Receive, send: Send) -> None:
    async def send_then_drop(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            if action.drop == "mid_body" and len(body) > 1:
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise ConnectionDropped(action.drop)
        await send(message)

    await app(scope, receive, send_then_drop)


def _truncated(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _malformed(body: bytes) -> bytes:
    """Almost JSON: a trailing comma before the closing brace (strict parsers, Python's included, refuse it)."""
    stripped = body.rstrip()
    return stripped[:-1] + b",}" if stripped.endswith((b"}", b"]")) else stripped + b"}"


def _rewrite(change: Callable[[bytes], bytes]) -> Act:
    async def act(app: ASGIApp, action: Action, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = change(b"".join(chunks))
                    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await app(scope, receive, buffered)

    return act


_ACTIONS: dict[str | None, Act] = {
    None: _pass,
    "status": _status_response,
    "empty_page": _empty_page,
    "drop": _drop,
    "truncate": _rewrite(_truncated),
    "malformed": _rewrite(_malformed),
}


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs any exception after the response started; an injected drop is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return not isinstance(error, ConnectionDropped)


_LOG_FILTER = _HideInjectedDrops()


def hide_injected_drops() -> None:
    """Keep uvicorn's error log for real errors: an injected drop is not one."""
    logger = logging.getLogger("uvicorn.error")
    if _LOG_FILTER not in logger.filters:
        logger.addFilter(_LOG_FILTER)
