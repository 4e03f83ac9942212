"""An HTTP client for Zendesk's incremental export that retries what can be retried and explains what cannot.

* Every request has a timeout (:attr:`ExportConfig.timeout`).
* 5xx answers, timeouts, dropped connections and bodies that are not a JSON object (truncated, garbled) are
  retried with exponential backoff and jitter.
* A 429 waits for ``Retry-After`` (seconds or an HTTP date, read against the server's ``Date``); without it,
  until the next calendar minute of the server's clock (Zendesk's windows are calendar minutes), else backoff.
* Pacing (:mod:`.pacer`): when a response says the bucket is empty (``zendesk-ratelimit-*: remaining=0;
  resets=N`` or ``x-rate-limit-remaining: 0`` with ``ratelimit-reset``), the next request waits for the reset
  instead of spending a 429; while the headers show requests left, a client alone does not slow down at all.
  Clients of one run that share a :class:`~.pacer.Pacer` (several requests in flight) share its budget.
* Before the first answer, a connection that is refused or a host name that does not resolve is retried for
  :data:`FIRST_CONTACT_WINDOW` seconds only, then :class:`Unreachable` names the URL: a wrong ``--url`` or a
  server that is not running is reported in seconds. Once the account has answered, the same failures are
  blips of a long export and get the whole retry window.
* A request that keeps failing for longer than :attr:`ExportConfig.retry_for` seconds raises :class:`GaveUp`.
  The time counted is the larger of the wall-clock time spent and the waits planned, so the budget also holds
  with ``sleep`` replaced by a no-op (the *no-backoff mode* for tests: ``ExportConfig(no_backoff=True)`` or
  ``ZendeskClient(config, sleep=...)``, e.g. a sleep that advances a test server's frozen clock).
* 401, 403, 404 "No help desk" and other 4xx raise typed errors (see :mod:`.errors`) with a one-line message.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
import orjson

from zendesk_export import __version__

from .errors import (
    AccountNotFound,
    ApiError,
    AuthenticationFailed,
    GaveUp,
    PermissionDenied,
    TooRecentStartTime,
    Unreachable,
)
from .pacer import PACING_MARGIN, Pacer, Slot, bucket_states
from .settings import ExportConfig

__all__ = ["PACING_MARGIN", "ApiResponse", "ClientStats", "RetryPolicy", "Wait", "ZendeskClient"]

USER_AGENT = f"zendesk-export/{__version__}"
FIRST_CONTACT_WINDOW = 5.0  # seconds to retry an unreachable host before it has ever answered
_UNRESOLVABLE = ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
                 "No address associated", "Temporary failure in name resolution")


@dataclass
class ClientStats:
    """Counters since the client was made: ``requests`` sent (every attempt), ``retries`` (attempts after a
    failure or a 429), ``rate_limit_waits`` (pauses for an empty bucket or a 429) and ``waited_seconds``
    (all pauses the client chose, backoff included; planned time when sleeping is disabled)."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for attempt n (0-based): ``min(max_delay, base_delay * 2**n)``, jittered to 50-100 %."""

    base_delay: float = 1.0
    max_delay: float = 60.0


@dataclass(frozen=True)
class Wait:
    """A pause the client is about to take: ``kind`` is ``"rate_limit"`` or ``"retry"``."""

    kind: str
    seconds: float
    reason: str


@dataclass
class ApiResponse:
    """A successful answer: the decoded JSON object and the response headers."""

    body: dict[str, Any]
    headers: httpx.Headers
    status: int


@dataclass
class _Retryable:
    reason: str
    delay: float | None = None  # None: use backoff
    rate_limited: bool = False
    unreachable: bool = False  # no connection at all (refused, unresolvable), as opposed to a failed answer


@cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every client in the process, made once: httpx's defaults (certifi's authorities, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``). Loading the authorities costs 25-50 ms of CPU each time, and a
    whole-account run makes a client per stream; a context is safe to share between connections and threads."""
    return httpx.create_ssl_context()


def _no_sleep(_seconds: float) -> None:
    """The no-backoff mode: waits are planned and counted, never slept."""


class ZendeskClient:
    """GET JSON from one Zendesk account, with auth, retries and pacing (see the module docstring).

    ``sleep`` replaces :func:`time.sleep` (default: a no-op if ``config.no_backoff``); ``transport`` an httpx
    transport (tests); ``on_wait`` is told about every pause before it starts (progress displays); ``pacer``
    hands out the request slots (default: one of its own). Safe to use from several threads at once.
    """

    def __init__(self, config: ExportConfig, *, sleep: Callable[[float], None] | None = None,
                 transport: httpx.BaseTransport | None = None, on_wait: Callable[[Wait], None] | None = None,
                 policy: RetryPolicy | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, pacer: Pacer | None = None) -> None:
        self.config = config
        self.stats = ClientStats()
        self.on_wait = on_wait
        self._sleep = sleep or (_no_sleep if config.no_backoff else time.sleep)
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._clock = clock
        self.pacer = pacer or Pacer(clock=clock)
        self.latency: float | None = None  # seconds the latest answer took, once one came
        self._counting = threading.Lock()  # stats are bumped from every thread that shares the client
        self._server_time: float | None = None
        self._answered = False
        self._http = httpx.Client(auth=_auth(config), headers=_headers(config), transport=transport,
                                  timeout=httpx.Timeout(config.timeout, connect=min(10.0, config.timeout)),
                                  follow_redirects=True, verify=tls_context())

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def server_time(self) -> float | None:
        """The server's clock (epoch seconds) from the ``Date`` header of the latest response, if any."""
        return self._server_time

    def get(self, path: str, params: Mapping[str, str | int]) -> ApiResponse:
        """GET ``base_url + path`` with ``params``; retry until it succeeds, fails for good, or the budget
        (``config.retry_for``) runs out."""
        url = self.config.base_url + path
        started, waited, attempt = self._clock(), 0.0, 0
        while True:
            slot = self._pace()
            outcome = self._attempt(url, params, slot)
            if isinstance(outcome, ApiResponse):
                return outcome
            delay = outcome.delay if outcome.delay is not None else self._backoff(attempt)
            spent = max(self._clock() - started, waited)
            if outcome.unreachable and not self._answered and spent + delay > self._first_contact_window():
                raise Unreachable(f"cannot reach {self.config.base_url}: {outcome.reason}, {attempt + 1} "
                                  f"attempts in {spent:.0f}s; check --url/--subdomain and that the server "
                                  "is running")
            if spent + delay > self.config.retry_for:
                raise GaveUp(f"gave up after {attempt + 1} attempts in {spent:.0f}s: {outcome.reason} "
                             f"(GET {url}); try again later or raise --retry-for")
            if outcome.rate_limited and self.pacer.spread:
                self.pacer.block(delay)  # requests side by side: all of them wait, not only this one
            self._count(retries=1)
            self._wait(Wait("rate_limit" if outcome.rate_limited else "retry", delay, outcome.reason))
            waited += delay
            attempt += 1

    def pause(self, reason: str, attempt: int = 0) -> None:
        """Wait the backoff of ``attempt`` (for the export loop's "ask again" on an empty page)."""
        self._count(retries=1)
        self._wait(Wait("retry", self._backoff(attempt), reason))

    def _attempt(self, url: str, params: Mapping[str, str | int], slot: Slot) -> ApiResponse | _Retryable:
        self._count(requests=1)
        sent = self._clock()
        self.pacer.sending(slot.seq)
        try:
            response, content = self._fetch(url, params)
        except httpx.TimeoutException:
            return self._failed(slot, f"no answer within {self.config.timeout:g}s")
        except httpx.ConnectError as error:
            return self._failed(slot, _connect_failure(error, self.config), unreachable=True)
        except (httpx.TransportError, httpx.DecodingError) as error:
            return self._failed(slot, f"connection failed ({type(error).__name__}: {error or 'no detail'})")
        self._answered = True
        self.latency = self._clock() - sent
        self._observe(response.headers, slot)
        return self._interpret(response, content)

    def _fetch(self, url: str, params: Mapping[str, str | int]) -> tuple[httpx.Response, bytes]:
        """GET ``url``: the closed response and its body. A success's body is read into bytes the response
        does not keep: a response and its stream refer to each other, so a response holding a page's megabytes
        would keep them alive until the cycle collector happens to run, several pages later."""
        with self._http.stream("GET", url, params=dict(params)) as response:
            if 200 <= response.status_code < 300:
                return response, b"".join(response.iter_bytes())
            return response, response.read()  # small, and error_for reads it from the response

    def _failed(self, slot: Slot, reason: str, unreachable: bool = False) -> _Retryable:
        self.pacer.forget(slot.seq)
        return _Retryable(reason, unreachable=unreachable)

    def _interpret(self, response: httpx.Response, content: bytes) -> ApiResponse | _Retryable:
        status = response.status_code
        if status == 429:
            return _Retryable("rate limited (429)", self._retry_after(response.headers), rate_limited=True)
        if status >= 500:
            return _Retryable(f"server error {status}")
        if not 200 <= status < 300:
            raise error_for(response, self.config)
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            return _Retryable(f"malformed JSON in a {len(content)}-byte body (truncated?)")
        if not isinstance(body, dict):
            return _Retryable("the body is JSON but not an object")
        return ApiResponse(body, response.headers, status)

    def _first_contact_window(self) -> float:
        return min(FIRST_CONTACT_WINDOW, self.config.retry_for)

    def _observe(self, headers: httpx.Headers, slot: Slot) -> None:
        server_time = _date_header(headers)
        if server_time is not None:
            self._server_time = server_time
        names = ((name.lower(), value) for name, value in headers.items())
        self.pacer.observe(slot.seq, bucket_states(names, self._server_time))

    def _pace(self) -> Slot:
        """Wait for a request slot. A wait for the budget is a reported rate-limit wait; the short gaps that
        spread requests evenly are slept without a word."""
        slot = self.pacer.reserve()
        if slot.budget and slot.delay > 0:
            self._wait(Wait("rate_limit", slot.delay, "rate limit bucket empty, waiting for its reset"))
        elif slot.delay > 0:
            self._sleep(slot.delay)
        return slot

    def _count(self, requests: int = 0, retries: int = 0, rate_limit_waits: int = 0, waited: float = 0.0) -> None:
        with self._counting:
            self.stats.requests += requests
            self.stats.retries += retries
            self.stats.rate_limit_waits += rate_limit_waits
            self.stats.waited_seconds += waited

    def _wait(self, wait: Wait) -> None:
        self._count(rate_limit_waits=int(wait.kind == "rate_limit"), waited=wait.seconds)
        if self.on_wait is not None:
            self.on_wait(wait)
        self._sleep(wait.seconds)

    def _backoff(self, attempt: int) -> float:
        ceiling: float = min(self._policy.max_delay, self._policy.base_delay * 2**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date), else to the next minute of the
        server's clock, else None (backoff)."""
        value = headers.get("retry-after", "").strip()
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                when = _http_date(value)
                if when is not None:
                    now = self._server_time if self._server_time is not None else time.time()
                    return max(0.0, when - now)
        if self._server_time is not None:
            return 60 - self._server_time % 60 + PACING_MARGIN
        return None


def _auth(config: ExportConfig) -> httpx.Auth | None:
    if config.oauth_token:
        return None  # Bearer header, see _headers
    if config.token:
        return httpx.BasicAuth(f"{config.email}/token", config.token)
    return httpx.BasicAuth(config.email or "", config.password or "")


def _connect_failure(error: httpx.ConnectError, config: ExportConfig) -> str:
    """Why no connection was made, in words: an unresolvable host name, a refusal, or httpx's own text."""
    text = str(error)
    if any(marker in text for marker in _UNRESOLVABLE):
        return f"the host name {httpx.URL(config.base_url).host} does not resolve"
    if "refused" in text.lower():
        return "connection refused"
    return f"connection failed ({text or 'no detail'})"


def _host(config: ExportConfig) -> str:
    """The account's host as the user named it: the forced Host header, else the base URL's."""
    return config.host_header or httpx.URL(config.base_url).host


def _headers(config: ExportConfig) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if config.oauth_token:
        headers["Authorization"] = f"Bearer {config.oauth_token}"
    if config.host_header:
        headers["Host"] = config.host_header
    return headers


def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _date_header(headers: httpx.Headers) -> float | None:
    """The last parseable ``Date`` (an app behind a server that adds its own may send two)."""
    for value in reversed(headers.get_list("date")):
        parsed = _http_date(value)
        if parsed is not None:
            return parsed
    return None


def error_for(response: httpx.Response, config: ExportConfig) -> ApiError:
    """The typed error for a 4xx answer that retrying cannot fix (the message says what to change)."""
    status = response.status_code
    title, message = _error_detail(response)
    detail = f"{title}: {message}" if title and message else title or message or response.reason_phrase
    host = _host(config)
    if status == 401:
        return AuthenticationFailed(f"wrong credentials: {host} answered 401 ({detail}); "
                                    f"{_credential_hint(config)}", status=status)
    if status == 403:
        who = config.email or "the owner of this OAuth token"
        return PermissionDenied(f"not an admin: {who} may not use the incremental export ({detail}); "
                                "it is for admins only, use an admin's credentials", status=status)
    if status == 404:
        if title.startswith("No help desk"):
            return AccountNotFound(f"no such account: {title}; check --url/--subdomain", status=status)
        return AccountNotFound(f"not found: {response.request.url.path} on {host} ({detail}); "
                               "is --url the account's base URL?", status=status)
    if status in (400, 422) and _is_too_recent(detail):
        return TooRecentStartTime(f"start_time too recent ({detail})", status=status)
    return ApiError(f"Zendesk answered {status} ({detail}) to GET {response.request.url}", status=status)


def _credential_hint(config: ExportConfig) -> str:
    if config.oauth_token:
        return "check --oauth-token (ZENDESK_OAUTH_TOKEN)"
    if config.token:
        return "check --email and --token (ZENDESK_EMAIL, ZENDESK_API_TOKEN)"
    return "check --email and --password (ZENDESK_EMAIL, ZENDESK_PASSWORD)"


def _is_too_recent(detail: str) -> bool:
    lowered = detail.lower()
    return "start_time" in lowered and any(word in lowered for word in ("recent", "future", "older than"))


def _error_detail(response: httpx.Response) -> tuple[str, str]:
    """(title, message) of any of Zendesk's error shapes: ``{"error": "X", "description": "…"}``,
    ``{"error": {"title": …, "message": …}}``, ``{"error": "invalid_token", "error_description": …}``,
    or plain text."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", response.text.strip()[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("title") or ""), str(error.get("message") or "")
    message = body.get("description") or body.get("error_description") or ""
    return str(error or ""), str(message)
