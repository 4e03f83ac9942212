"""The request journal: what clients sent and what they got, for a test to assert on (``GET /__admin/requests``).

Each entry: method, path, query, host, a redacted ``Authorization`` (the scheme and, for Basic, the login without
its secret), user agent, status (``None`` if the connection dropped before a status was sent), duration, the
fault applied (see ``faults``) and the time on the account's clock. One journal per account (``Journals``):
an account never sees another's requests, and a request for an account that does not exist is in none. Newest
last; bounded (the oldest fall off); in the memory of the process that served the request (a journal is for
watching one server in a test, and writing every request to the database would cost more than the request).
``/__admin/`` calls are not journalled: the journal shows the client under test, not the test's own controls.
The path is Zendesk's: a request through ``/__account/NAME/…`` is journalled without that prefix.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export.redaction import redact_authorization
from zendesk_export.server.edge.faults import FAULT_KEY
from zendesk_export.server.edge.status import StatusWatch
from zendesk_export.server.http import ACCOUNT_KEY, account_time
from zendesk_export.server.store import Account

__all__ = ["Journal", "Journals", "JournalMiddleware", "redact", "CAPACITY"]

CAPACITY = 1000


def redact(authorization: str | None) -> str | None:
    """``Basic <b64 email/token:secret>`` → ``Basic email/token:***``; a Basic value without a colon (it may be
    the secret alone) → ``Basic ***``; another known scheme → ``Scheme ***``; a value without a known scheme
    (a bare token) → ``***``."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    login = None
    if scheme.lower() == "basic":
        try:
            login, colon, _ = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: non-ASCII text, e.g. `Basic é`
            login, colon = None, ""
        login = login if colon else None
    return redact_authorization(authorization, login)


class Journal:
    """A bounded, thread-safe list of entries, each numbered in arrival order."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append({"id": next(self._ids), **entry})

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Journals:
    """The journal of each account, made on its first request, dropped with the account. Thread-safe."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._journals: dict[int, Journal] = {}
        self._lock = threading.Lock()

    def of(self, account: Account) -> Journal:
        with self._lock:
            journal = self._journals.get(account.id)
            if journal is None:
                journal = self._journals[account.id] = Journal(self.capacity)
            return journal

    def drop(self, account_id: int) -> None:
        with self._lock:
            self._journals.pop(account_id, None)


class JournalMiddleware:
    """Pure-ASGI middleware outside the fault injection: sees every request but the admin API's, the fault
    applied, the status that went out, and records it in the journal of the request's account."""

    def __init__(self, app: ASGIApp, journals: Journals, wall: Callable[[], float]) -> None:
        self.app = app
        self.journals = journals
        self.wall = wall

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        account: Account | None = scope.get(ACCOUNT_KEY)
        if scope["type"] != "http" or scope["path"].startswith("/__admin/") or account is None:
            await self.app(scope, receive, send)
            return
        journal = self.journals.of(account)
        started, at = time.perf_counter(), account_time(scope, self.wall)
        watch = StatusWatch(send)
        try:
            await self.app(scope, receive, watch)
        finally:
            journal.record(_entry(scope, watch.status, time.perf_counter() - started, at))


def _entry(scope: Scope, status: int | None, seconds: float, at: float) -> dict[str, Any]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    return {
        "time": at,
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode("latin-1"),
        "host": headers.get("host"),
        "authorization": redact(headers.get("authorization")),
        "user_agent": headers.get("user-agent"),
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "fault": scope.get(FAULT_KEY),
    }
