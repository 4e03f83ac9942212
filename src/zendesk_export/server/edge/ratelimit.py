"""Zendesk's rate limits (reference §4, Appendix A 13-14): fixed calendar windows on the account's clock.

Every ``/api/v2/`` request counts in the account-wide plan bucket (700/min, Enterprise as recorded) and, by path
pattern, in at most one endpoint bucket: incremental exports 10/min (30 with High Volume), the users cursor
export 20/min (60), the sample exports 10 per 20 minutes. Classifying by path covers endpoints added later
without their cooperation. A request over any limit gets Zendesk's 429 with ``Retry-After`` = whole seconds
left in the window; every response carries the account headers and, where Zendesk sends one, the endpoint
bucket's own ``zendesk-ratelimit-*`` header. 429s count too: the recorded 429 decremented
``x-rate-limit-remaining``.

Where the counters live: in the server's own store, one row per (account, bucket) holding the current window and
its count, bumped by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per request for all its buckets at once
(one statement, one short write lock). That is atomic across threads and across server processes sharing the
database, which is what makes several processes share a limit; PostgreSQL runs the same statement. Redis would
add a second service to run and configure for a rate of requests (Zendesk allows ~10-700 a minute) that an
indexed single-row upsert serves easily, and would split the server's state between two systems that a reset
must keep in step. The store is the one thing every deployment already has.

Settings: ``serve --rate-limit on|off|N`` (N: incremental requests per minute) is the default for every account;
an account's own settings (``accounts.settings["rate_limit"]``, set with ``PUT /__admin/rate_limits``) override it,
so a test server started with limits off can turn them on for one account. Off means no counting, no headers.

Windows follow the account's clock (``ClockState.limiter_time``). Frozen, it stands still too, so every header
is exact in a test, but a refusal is recorded with the account's clock: a client told ``Retry-After: 7`` that
waits 7 seconds for real finds the window over, as it would at Zendesk, while the timestamps it reads stand
still.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.server.errors import RateLimitExceeded
from zendesk_export.server.http import ACCOUNT_KEY, json_response
from zendesk_export.server.model.ids import ascii_digits
from zendesk_export.server.store import Account, Store

__all__ = ["SETTING", "LIMIT_FIELDS", "BUCKETS", "Bucket", "Limits", "Usage", "RateLimiter", "RateLimits",
           "server_limits", "buckets_for", "window"]

SETTING = "rate_limit"  # key in accounts.settings


@dataclass(frozen=True)
class Bucket:
    name: str  # also the Limits field holding its limit and the counter's key in the store
    window: int  # seconds
    description: str  # of the 429 body
    header: str | None = None  # the endpoint's own header, if Zendesk sends one


PLAN = Bucket("plan_limit", 60, "Number of allowed API requests per minute exceeded")
INCREMENTAL = Bucket("incremental", 60, "Number of allowed incremental export API requests per minute exceeded",
                     "zendesk-ratelimit-incremental-exports")
USERS_CURSOR = Bucket("users_cursor", 60,
                      "Number of allowed incremental export cursor API requests per minute exceeded",
                      "zendesk-ratelimit-incremental-exports-cursor")
SAMPLE = Bucket("sample", 1200, "Number of allowed incremental sample export API requests per 20 minutes exceeded")
BUCKETS = (PLAN, INCREMENTAL, USERS_CURSOR, SAMPLE)

# First matching pattern wins; paths are compared without Zendesk's optional `.json` suffix.
ENDPOINT_BUCKETS: tuple[tuple[str, Bucket], ...] = (
    ("/api/v2/incremental/*/sample", SAMPLE),
    ("/api/v2/incremental/users/cursor", USERS_CURSOR),
    ("/api/v2/incremental/*", INCREMENTAL),
)


@dataclass(frozen=True)
class Limits:
    """Requests per window of each bucket, and whether limits apply at all."""

    enabled: bool = True
    high_volume: bool = False
    plan_limit: int = 700
    incremental: int = 10
    users_cursor: int = 20
    sample: int = 10

    def of(self, bucket: Bucket) -> int:
        return int(getattr(self, bucket.name))


LIMIT_FIELDS = frozenset(f.name for f in fields(Limits))
HIGH_VOLUME: dict[str, Any] = {"plan_limit": 2500, "incremental": 30, "users_cursor": 60}  # the High Volume API add-on


def server_limits(setting: str) -> Limits:
    """``serve --rate-limit``: "on", "off", or N incremental-export requests per minute."""
    value = str(setting).strip().lower()
    if value == "off":
        return Limits(enabled=False)
    if value == "on":
        return Limits()
    if ascii_digits(value) and int(value) > 0:
        return Limits(incremental=int(value))
    raise ValueError(f"rate limit must be on, off or a positive number, not {setting!r}")


def account_limits(base: Limits, account: Account) -> Limits:
    """The server's limits overridden by the account's own settings; High Volume raises the defaults first."""
    own: Mapping[str, Any] = account.settings.get(SETTING) or {}
    if own.get("high_volume"):
        base = replace(base, **HIGH_VOLUME)
    return replace(base, **{k: v for k, v in own.items() if k in LIMIT_FIELDS})


def buckets_for(path: str) -> tuple[Bucket, ...]:
    """The buckets a request to ``path`` counts in: the plan bucket for all of /api/v2/, plus at most one more."""
    if not path.startswith("/api/v2/"):
        return ()
    bare = path.removesuffix(".json")
    for pattern, bucket in ENDPOINT_BUCKETS:
        if fnmatchcase(bare, pattern):
            return (PLAN, bucket)
    return (PLAN,)


def window(now: float, length: int) -> tuple[int, int]:
    """(start of the calendar window holding ``now``, whole seconds until it ends, at least 1)."""
    start = int(now // length) * length
    return start, max(1, math.ceil(start + length - now))


@dataclass(frozen=True)
class Usage:
    bucket: Bucket
    limit: int
    count: int
    reset: int  # seconds left in the window

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


class RateLimiter:
    """Counts a request in its buckets and says whether it may pass (synchronous: it talks to the store)."""

    def __init__(self, store: Store, wall: Callable[[], float], setting: str) -> None:
        self.store, self.wall = store, wall
        self.setting = setting  # ``serve --rate-limit``, as given
        self.base = server_limits(setting)

    def limits(self, account: Account) -> Limits:
        return account_limits(self.base, account)

    def hit(self, account: Account, path: str) -> list[Usage]:
        """The usage of each of the account's buckets after counting this request (empty when nothing is
        limited)."""
        buckets = buckets_for(path)
        limits = self.limits(account)
        if not buckets or not limits.enabled:
            return []
        wall = self.wall()
        now = account.clock.limiter_time(wall)
        windows = {b.name: window(now, b.window) for b in buckets}
        counts = self.store.hit_rate_counters(account.id, [(b.name, windows[b.name][0]) for b in buckets])
        usages = [Usage(b, limits.of(b), counts[b.name], windows[b.name][1]) for b in buckets]
        refused = refusal(usages)
        if refused is not None and account.clock.frozen:  # the wait it was told starts now, in real time
            seconds = int(refused.headers["Retry-After"])
            self.store.change_clock(account.id, lambda state: state.hold(wall, seconds))
        return usages

    def usage(self, account: Account) -> list[Usage]:
        """Every bucket's usage in its current window, read without counting (a window that has passed, or was
        never used, counts 0): what the next request would find."""
        limits, now = self.limits(account), account.clock.limiter_time(self.wall())
        stored = self.store.rate_counters(account.id)
        usages = []
        for bucket in BUCKETS:
            start, left = window(now, bucket.window)
            stored_start, count = stored.get(bucket.name, (start, 0))
            usages.append(Usage(bucket, limits.of(bucket), count if stored_start == start else 0, left))
        return usages


def headers_for(usages: Sequence[Usage]) -> list[tuple[bytes, bytes]]:
    """The account headers in both recorded spellings (2024 ``ratelimit-*``, 2023 ``rate-limit*``) and each
    endpoint bucket's ``total=…; remaining=…; resets=…`` header."""
    headers: list[tuple[str, str]] = []
    for usage in usages:
        limit, remaining, reset = str(usage.limit), str(usage.remaining), str(usage.reset)
        if usage.bucket is PLAN:
            headers += [("x-rate-limit", limit), ("x-rate-limit-remaining", remaining),
                        ("ratelimit-limit", limit), ("ratelimit-remaining", remaining), ("ratelimit-reset", reset),
                        ("rate-limit", limit), ("rate-limit-remaining", remaining), ("rate-limit-reset", reset)]
        elif usage.bucket.header:
            headers.append((usage.bucket.header, f"total={limit}; remaining={remaining}; resets={reset}"))
    return [(name.encode(), value.encode()) for name, value in headers]


def refusal(usages: Sequence[Usage]) -> RateLimitExceeded | None:
    """The 429 for the exceeded bucket that frees up last (an endpoint bucket before the plan on a tie)."""
    exceeded = [u for u in usages if u.exceeded]
    if not exceeded:
        return None
    worst = max(reversed(exceeded), key=lambda u: u.reset)
    return RateLimitExceeded(worst.reset, worst.bucket.description)


class RateLimits:
    """Pure-ASGI middleware: counts every /api/v2/ request, answers 429 over a limit, adds the headers."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        account: Account | None = scope.get(ACCOUNT_KEY)
        if scope["type"] != "http" or not scope["path"].startswith("/api/v2/") or account is None:
            await self.app(scope, receive, send)  # not the API, or an unknown account: the app answers (404)
            return
        enabled = self.limiter.limits(account).enabled  # off: no store write, no thread
        usages = await run_in_threadpool(self.limiter.hit, account, scope["path"]) if enabled else []
        extra = headers_for(usages)
        error = refusal(usages)
        if error is not None:
            headers = {**error.headers, "cache-control": f"max-age={error.headers['Retry-After']}, public"}
            response = json_response(error.body(), error.status, headers)
            response.raw_headers += extra
            await response(scope, receive, send)
            return
        if not extra:  # limits off for this account, or not an account: nothing to add
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
