"""Seeded tickets turned into rows in a second process, while this one writes them to the store.

A seed's random draws are one stream (each ticket's draws depend on the ones before), so one process makes
every ticket in order; what is split is the work: the second process draws the tickets, numbers them with ids
this process reserves in the store (one short transaction a batch) and renders their audits, while this
process renders the tickets' rows and ratings records and writes the batch before. Same functions either way,
so the rows are the same bytes as when a small seed does it all here.
"""

from __future__ import annotations

import gc
import heapq
import marshal
import os
import socket
import subprocess
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from zendesk_export.server.model.ratings import rating_record
from zendesk_export.server.store.sql import (
    RenderedAudit,
    Reserved,
    audit_row,
    number_batch,
    row_values,
    seed_batches,
    seed_counts,
)

__all__ = ["Batch", "WORKER_FROM", "rendered_batches", "work"]

BATCH = 2000  # tickets a batch: bounded memory, and one short transaction each
WORKER_FROM = 20_000  # smaller seeds render here: starting a process costs more than it saves
# The worker's send buffer: room for a whole batch (~5 MB; Linux holds twice the size asked), so the worker goes
# on drawing the next batch instead of waiting, in its send, for this process to finish writing the batch
# before and read this one. The kernel caps it at net.core.wmem_max (often 208 KiB, 4 MiB on some systems).
_SEND_BUFFER = 4 << 20
# A batch's tickets rows, audits rows and the records of the ratings its tickets were given.
Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[dict[str, Any]]]
# A batch's tickets numbered and its audits rows: what the worker sends (the tickets rows and the ratings
# records are made by the writing process from the tickets: the worker, which draws, is the busier of the two).
Numbered = tuple[list[dict[str, Any]], list[tuple[Any, ...]]]
Reserve = Callable[[dict[str, int]], dict[str, int]]


def rendered_batches(tickets: Callable[[], Iterator[dict[str, Any]]], count: int, account_id: int,
                     reserve: Reserve, flag: Callable[[bool], Any] = bool) -> Iterator[Batch]:
    """The rows of the ``count`` tickets that ``tickets()`` makes, numbered with ids from ``reserve``, batch by
    batch, flags made by ``flag`` (``TicketLoader.flag``). ``tickets`` is called in the worker process (from
    ``WORKER_FROM`` tickets on), so it must pickle: a module-level function with its arguments
    (``functools.partial``)."""
    if count < WORKER_FROM:
        reserved: deque[dict[str, int]] = deque()
        numbered = _numbered(tickets(), account_id, lambda counts: reserved.append(reserve(counts)), reserved.popleft)
    else:
        numbered = _from_worker(tickets, account_id, reserve)
    for batch, audits in numbered:
        ratings = [record for record in map(rating_record, batch) if record is not None]
        yield [row_values(account_id, ticket, boolean=flag) for ticket in batch], audits, ratings


def _numbered(tickets: Iterator[dict[str, Any]], account_id: int, ask: Callable[[dict[str, int]], object],
              answer: Callable[[], dict[str, int]]) -> Iterator[Numbered]:
    """Batches of tickets numbered with the ids reserved for them, their audits rendered as rows. A batch's ids
    are asked for (``ask``) as soon as it is drawn, one batch ahead of its numbering (``answer``: the ids
    reserved for the oldest batch asked): the writing process reserves them between two writes, and the
    worker never waits for the answer. A ticket's audits after its first are numbered when the seeding
    reaches their time (``_LaterAudits``); those later than the last ticket come in a batch of their own."""
    placed: dict[int, int] = {}  # seeding position of a problem with incidents → its id
    later = _LaterAudits()
    drawn: deque[tuple[list[dict[str, Any]], list[_Step]]] = deque()
    position = 0

    def number_oldest() -> Numbered:
        nonlocal position
        batch, steps = drawn.popleft()
        audits = later.number(account_id, batch, steps, Reserved(answer()), placed, position)
        position += len(batch)
        return batch, audits

    def draw(batch: list[dict[str, Any]], steps: list[_Step]) -> None:
        ask(later.counts(batch, steps))
        drawn.append((batch, steps))

    for batch in seed_batches(tickets, BATCH):
        draw(batch, later.plan(batch, position + sum(len(b) for b, _ in drawn)))
        if len(drawn) > 1:
            yield number_oldest()
    if rest := later.rest():
        draw([], rest)
    while drawn:
        yield number_oldest()


# A step of numbering a batch: a run of its tickets (their indexes in the batch), each numbered with its first
# audit, or a later audit of the ticket at a seeding position (``(position, audit)``).
_Step = range | tuple[int, RenderedAudit]


class _LaterAudits:
    """A ticket's audits after its first, held until the seeding reaches their time, then numbered between
    the tickets created around them: audit and event ids grow with time, as Zendesk gives them (tickets come
    in the order they were created). Held: the audit and its ticket's seeding position; once that ticket is
    numbered, its id (one entry per ticket with audits held, until the last of them is numbered). Meanwhile
    the ticket's row, written with its batch, already shows what the held audit did: a reader during the seed
    (or a seed cut short) finds that audit missing until the seed reaches its time."""

    def __init__(self) -> None:
        self.held: list[tuple[int, int, int, RenderedAudit]] = []  # a heap of (time, order, position, audit)
        self.order = 0
        self.owners: dict[int, list[int]] = {}  # position → [ticket id (0 until numbered), audits still held]

    def plan(self, batch: list[dict[str, Any]], first_position: int) -> list[_Step]:
        """How ``batch`` (drawn, not numbered; ``first_position``: its first ticket's seeding position) is
        numbered: runs of its tickets, and before each ticket the held audits older than it. Each ticket keeps
        its first audit; the others are held."""
        steps: list[_Step] = []
        start = 0
        for index, ticket in enumerate(batch):
            due = self._due(ticket["created_at"])
            if due:
                steps += [*([range(start, index)] if index > start else []), *due]
                start = index
            first, *rest = ticket.get("audits") or [None]
            ticket["audits"] = [] if first is None else [first]
            for audit in rest:
                heapq.heappush(self.held, (audit.created_at_epoch, self.order, first_position + index, audit))
                self.order += 1
            if rest:
                self.owners[first_position + index] = [0, len(rest)]
        if start < len(batch):
            steps.append(range(start, len(batch)))
        return steps

    def rest(self) -> list[_Step]:
        """Every audit still held, in time order: what comes after the last ticket."""
        return self._due(None)

    def _due(self, before: int | None) -> list[_Step]:
        due: list[_Step] = []  # the audits held from before ``before`` (all of them with None), oldest first
        while self.held and (before is None or self.held[0][0] < before):
            _time, _order, position, audit = heapq.heappop(self.held)
            due.append((position, audit))
        return due

    @staticmethod
    def counts(batch: list[dict[str, Any]], steps: list[_Step]) -> dict[str, int]:
        """The ids numbering ``batch`` by ``steps`` takes (``seed_counts`` and the held audits)."""
        counts = seed_counts(batch)
        held = [step[1] for step in steps if not isinstance(step, range)]
        if held:
            counts["audits"] = counts.get("audits", 0) + len(held)
            counts["events"] = counts.get("events", 0) + sum(audit.events for audit in held)
        return {name: count for name, count in counts.items() if count}

    def number(self, account_id: int, batch: list[dict[str, Any]], steps: list[_Step], numbers: Reserved,
               placed: dict[int, int], first_position: int) -> list[tuple[Any, ...]]:
        """Number ``batch`` by ``steps`` (``number_batch`` for each run); return its audits rows."""
        rows: list[tuple[Any, ...]] = []
        for step in steps:
            if isinstance(step, range):
                rows += number_batch(account_id, batch[step.start:step.stop], numbers, placed,
                                     first_position + step.start)
                for index in step:
                    if first_position + index in self.owners:
                        self.owners[first_position + index][0] = batch[index]["id"]
                continue
            position, audit = step
            owner = self.owners[position]
            rows.append(audit_row(account_id, owner[0], audit, numbers))
            owner[1] -= 1
            if not owner[1]:
                del self.owners[position]
        return rows


def _from_worker(tickets: Callable[[], Iterator[dict[str, Any]]], account_id: int, reserve: Reserve
                 ) -> Iterator[Numbered]:
    """Messages from the worker: a dict of counts (answered with the ids reserved), a batch, an error, or None
    at the end. While this process writes a batch, the worker draws the next one."""
    here, there = socket.socketpair()
    there.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
    # A fresh interpreter, not a fork (a server runs threads: a fork could copy a lock some thread holds), and
    # not multiprocessing's spawn, which runs the caller's main script again.
    worker = subprocess.Popen(
        [sys.executable, "-c", f"from {__name__} import work; work({there.fileno()})"], pass_fds=[there.fileno()],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))})
    there.close()
    connection = Connection(here.detach())
    try:
        connection.send((tickets, account_id))
        while (message := _receive(connection, worker)) is not None:
            if isinstance(message, dict):
                connection.send_bytes(marshal.dumps(reserve(message)))
            else:
                yield message
    finally:
        connection.close()
        worker.kill()
        worker.wait()


def _receive(connection: Connection, worker: subprocess.Popen[bytes]) -> Any:
    try:
        message = marshal.loads(connection.recv_bytes())
    except (EOFError, ConnectionResetError):
        raise RuntimeError(f"the seeding process stopped (exit code {worker.wait()})") from None
    if isinstance(message, str):
        raise RuntimeError(f"the seeding process failed:\n{message}")
    return message


def work(fd: int) -> None:
    """The worker process, on its end of a socket: take what to make, render every batch and send it; a
    failure is sent back as its traceback. The batches make no reference cycles, so the cycle collector stays
    off. Messages are plain dicts, lists, tuples, strings and numbers, which ``marshal`` writes and reads in
    half the time ``pickle`` takes (both ends run the same interpreter)."""
    gc.disable()
    connection = Connection(fd)
    tickets, account_id = connection.recv()

    def send(message: Any) -> None:
        connection.send_bytes(marshal.dumps(message))

    def answer() -> dict[str, int]:
        starts: dict[str, int] = marshal.loads(connection.recv_bytes())
        return starts

    try:
        for batch in _numbered(tickets(), account_id, send, answer):
            send(batch)
        send(None)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the writing process stopped: nothing is waiting for these rows
    except Exception:
        send(traceback.format_exc())
