"""The request journal: what clients sent and what they got, for a test to assert on (``GET /__admin/requests``).

Each entry: method, path, query, host, a redacted ``Authorization`` (the scheme and, for Basic, the login without
its secret), user agent, status (``None`` if the connection dropped before a status was sent), duration, the
fault applied (see ``faults``) and the server-clock time. Newest last; bounded (the oldest fall off); in the
memory of the process that served the request (a journal is for watching one server in a test, and writing
every request to the database would cost more than the request). ``/__admin/`` calls are not journalled: the
journal shows the client under test, not the test's own controls.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.clock import Clock
from zendesk_export.redaction import redact_authorization
from zendesk_export.server.edge.faults import FAULT_KEY

__all__ = ["Journal", "JournalMiddleware", "redact", "CAPACITY"]

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


class JournalMiddleware:
    """Pure-ASGI middleware outside the fault injection: sees every request but the admin API's, the fault
    applied, the status that went out."""

    def __init__(self, app: ASGIApp, journal: Journal, clock: Clock) -> None:
        self.app = app
        self.journal = journal
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin/"):
            await self.app(scope, receive, send)
            return
        started, at = time.perf_counter(), self.clock.now()
        status: int | None = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.journal.record(_entry(scope, status, time.perf_counter() - started, at))


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
