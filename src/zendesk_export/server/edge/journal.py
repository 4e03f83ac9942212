"""The request journal: what clients sent and what they got, for a test to assert on (``GET /__admin/requests``).

Each entry: method, path, query, host, a redacted ``Authorization`` (the scheme and, for Basic, the login without
its secret), user agent, status (``None`` if the connection dropped before a status was sent), duration, the
fault applied (see ``faults``), the time on the account's clock and ``server_pid``, the process that answered.
One journal per account (``Journals``): an account never sees another's requests, and a request for an account
that does not exist is in none. Newest last; bounded (the oldest fall off).

Where it lives: with one server process, in its memory (``Journals``: writing every request to the database
would cost more than many requests). With several (``serve --workers N``), in the store (``SharedJournals``: one
short insert per request, in SQLite's side file beside the rate-limit counters), so that every process lists
every request whichever process served it, in arrival order. Either way an entry is written before the last
byte of its response leaves: a client that reads a response and then asks for the journal finds its request.
``/__admin/`` calls are not journalled: the journal shows the client under test, not the test's own controls.
The path is Zendesk's: a request through ``/__account/NAME/…`` is journalled without that prefix.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.redaction import redact_authorization
from zendesk_export.server.edge.faults import FAULT_KEY
from zendesk_export.server.edge.status import StatusWatch
from zendesk_export.server.http import ACCOUNT_KEY, account_time
from zendesk_export.server.store import Account, Store

__all__ = ["Journal", "Journals", "SharedJournal", "SharedJournals", "AccountJournals", "JournalMiddleware",
           "redact", "CAPACITY"]

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
    """The journal of each account in this process's memory, made on its first request, dropped with the
    account. Thread-safe."""

    shared = False

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


class SharedJournal:
    """One account's journal in the store, shared by every server process on the database."""

    def __init__(self, store: Store, account_id: int, capacity: int = CAPACITY) -> None:
        self.store, self.account_id, self.capacity = store, account_id, capacity

    def record(self, entry: dict[str, Any]) -> None:
        self.store.append_journal(self.account_id, orjson.dumps(entry).decode(), self.capacity)

    def entries(self) -> list[dict[str, Any]]:
        return [{"id": seq, **orjson.loads(entry)} for seq, entry in self.store.journal(self.account_id,
                                                                                          self.capacity)]

    def clear(self) -> None:
        self.store.clear_journal(self.account_id)


class SharedJournals:
    """The journal of each account, in the store (``serve --workers N``); dropped with the account's rows."""

    shared = True

    def __init__(self, store: Store, capacity: int = CAPACITY) -> None:
        self.store, self.capacity = store, capacity

    def of(self, account: Account) -> SharedJournal:
        return SharedJournal(self.store, account.id, self.capacity)

    def drop(self, account_id: int) -> None:
        """Nothing to do: deleting the account deletes its journal in the store."""


class _AnyJournal(Protocol):
    def record(self, entry: dict[str, Any]) -> None: ...

    def entries(self) -> list[dict[str, Any]]: ...

    def clear(self) -> None: ...


class AccountJournals(Protocol):
    """Either kind: ``Journals`` (one process) or ``SharedJournals`` (several)."""

    shared: bool

    def of(self, account: Account) -> _AnyJournal: ...

    def drop(self, account_id: int) -> None: ...


class JournalMiddleware:
    """Pure-ASGI middleware outside the fault injection: sees every request but the admin API's, the fault
    applied, the status that went out, and records it in the journal of the request's account before the
    response's last message is sent (or, when the connection drops, as the request ends)."""

    def __init__(self, app: ASGIApp, journals: AccountJournals, wall: Callable[[], float]) -> None:
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
        recorded = False

        async def record() -> None:
            nonlocal recorded
            recorded = True
            entry = _entry(scope, watch.status, time.perf_counter() - started, at)
            if self.journals.shared:  # a store write: off the event loop
                await run_in_threadpool(journal.record, entry)
            else:
                journal.record(entry)

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body") and not recorded:
                await record()
            await watch(message)

        try:
            await self.app(scope, receive, send_recorded)
        finally:
            if not recorded:
                await record()


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
        "server_pid": os.getpid(),
    }
