"""One pacer per export run: it hands out request slots so that every request of the rate limit is used and
none is spent on a 429, however many requests are in flight.

Zendesk counts incremental-export requests in fixed calendar minutes of its own clock (10 a minute, 30 with
the High Volume add-on) and tells the state of each bucket in the headers of every answer:
``zendesk-ratelimit-incremental-exports: total=10; remaining=3; resets=21`` for the export bucket where it sends
one, ``x-rate-limit``/``ratelimit-remaining``/``ratelimit-reset`` (and the 2023 ``rate-limit*`` spelling) for the
account. The pacer keeps two rules:

* **The window's credit.** An answer to request *k* says how many requests the server will still take until its
  window resets. Requests that went out with or after *k*, or have not gone out yet, may not be counted in that
  answer, so they are taken off it. An answer to a request sent after the last answer came supersedes it;
  answers to requests in flight together arrive in any order, so for one window the least credit they leave
  holds. At zero credit the next slot is the window's reset. A window's end is reckoned from the moment request
  *k* actually went out (``sending``: on a busy machine a thread wakes late, and the slot's planned time would
  make the end early) plus ``resets`` (whole seconds, rounded up by the server) plus a margin, so it is never
  early; an answer about a window that has already ended is ignored. This alone is the sequential behaviour:
  spend what is left, wait for the reset when nothing is.
* **Even spreading** (on when several requests may be in flight): slots are ``60 / limit`` seconds apart plus
  :data:`SPREAD_MARGIN`, so that any 60 seconds hold at most ``limit`` requests whatever their alignment with
  the server's minutes, and the requests in flight never arrive as a burst the headers could not warn about.

The limit is the export bucket's ``total`` when the server names it, else Zendesk's documented 10 a minute as
soon as any rate-limit header shows that limits apply; a server that sends none (a local one with limits off)
is not paced. A 429's ``Retry-After`` holds every slot back until it has passed.

**The account's bucket is shared.** Every request of the account counts in it, the incremental exports too.
A pacer made with ``leave`` (the reference lists' in a whole-account run: hundreds of pages, sent as fast as
the bucket allows) stops ``leave()`` requests short of the end of every account window and waits for the
next, so that the other pacers of the run always find those requests there: spending the account's whole
minute, the lists left the next export request a 429 and a minute's wait. It always keeps one request of a
window for itself, so that it cannot stall on a small limit.

The pacer only decides; the caller sleeps (so that waits are reported and counted where they happen). It is safe
to share between threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["DEFAULT_EXPORT_LIMIT", "PACING_MARGIN", "SPREAD_MARGIN", "BucketState", "Pacer", "Slot", "auto_concurrency",
           "bucket_states"]

DEFAULT_EXPORT_LIMIT = 10  # Zendesk's incremental-export requests per minute without the High Volume add-on
PACING_MARGIN = 0.5  # seconds added to a bucket reset so that we never arrive a moment early
SPREAD_MARGIN = 0.02  # slots 2 % further apart than the limit allows: tolerates a second of send jitter a minute
# Two estimates of one window's end lie within seconds of each other (latency); Zendesk's windows are calendar
# minutes apart. The headers never say a window's length: a bucket with shorter windows would have two of them
# taken for one, whose least credit holds. That only ever sends less, never a request too many.
_SAME_WINDOW = 30.0
EXPORT_BUCKET = "zendesk-ratelimit-incremental-exports"
ACCOUNT_BUCKET = "account"
_UNLIMITED = 1 << 30


@dataclass(frozen=True)
class BucketState:
    """One bucket as an answer describes it: ``limit`` per window (None: not said), ``remaining`` after the
    request, ``resets`` seconds until the window ends (None: unknown)."""

    name: str
    limit: int | None
    remaining: int
    resets: float | None


@dataclass(frozen=True)
class Slot:
    """A reserved request slot: send after ``delay`` seconds. ``budget`` says whether the delay is a wait for
    an exhausted window or a 429 (reported as a rate-limit wait) rather than mere spreading."""

    seq: int
    delay: float
    budget: bool


@dataclass
class _Window:
    ends: float  # local monotonic time by which the server's window has surely ended
    left: int  # requests we may still send before ``ends``
    answered: float  # when the answer it was learnt from came (a request sent later was counted after it)


class Pacer:
    """Request slots within the rate limit (see the module docstring). ``clock`` is a monotonic clock."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, spread: bool = False,
                 leave: Callable[[], int] | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.spread = spread
        self._leave = leave  # how many requests of each account window to leave to the run's other pacers
        self.limit: int | None = None  # export requests per minute, once known
        self._windows: dict[str, _Window] = {}
        self._planned: dict[int, float] = {}  # seq → planned send time, for requests not gone out yet
        self._out: dict[int, float] = {}  # seq → the moment it went out, for requests awaiting their answer
        self._seq = 0
        self._next_slot = 0.0
        self._blocked_until = 0.0

    @property
    def interval(self) -> float:
        """Seconds between slots when spreading: ``60 / limit`` plus the margin; 0 while no limit is known."""
        if not self.spread or not self.limit:
            return 0.0
        return 60.0 / self.limit * (1 + SPREAD_MARGIN)

    def reserve(self) -> Slot:
        """The next free slot; its request counts in every window it falls in."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next_slot)
            budget = self._blocked_until > at
            at = max(at, self._blocked_until)
            exhausted = self._exhausted_until(at)
            while exhausted > at:  # after a reset another window may be exhausted too: look again
                at, budget = exhausted, True
                exhausted = self._exhausted_until(at)
            for window in self._windows.values():
                if at < window.ends:
                    window.left -= 1
            self._seq += 1
            self._planned[self._seq] = at
            if self.interval:
                self._next_slot = at + self.interval
            return Slot(self._seq, at - now, budget)

    def sending(self, seq: int) -> None:
        """Request ``seq`` goes out now: its answer's windows are reckoned from this moment."""
        with self._lock:
            if self._planned.pop(seq, None) is not None:
                self._out[seq] = self._clock()

    def observe(self, seq: int, buckets: Iterable[BucketState]) -> None:
        """Learn from the answer to request ``seq``: the limit and each bucket's window."""
        with self._lock:
            now = self._clock()
            sent = self._out.pop(seq, None)
            if sent is None:
                sent = self._planned.pop(seq, now)
            for state in buckets:
                self._learn_limit(state)
                if state.resets is None:
                    continue
                ends = sent + state.resets + PACING_MARGIN
                if ends <= now:
                    continue  # about a window that is over
                credit = state.remaining - self._not_counted_by(sent, ends) - self._left_to_others(state)
                window = _Window(ends, credit, now)
                known = self._windows.get(state.name)
                if known is not None and known.ends > now and sent <= known.answered:
                    # in flight while the known answer came: either may have been counted first
                    if ends < known.ends - _SAME_WINDOW:
                        continue  # about an earlier window than the one we know
                    if ends <= known.ends + _SAME_WINDOW:  # the same window: the least credit holds
                        window = _Window(max(ends, known.ends), min(window.left, known.left), now)
                self._windows[state.name] = window

    def forget(self, seq: int) -> None:
        """Request ``seq`` got no answer with headers (a network failure): stop counting it as in flight."""
        with self._lock:
            self._planned.pop(seq, None)
            self._out.pop(seq, None)

    def block(self, seconds: float) -> None:
        """Hold every slot back for ``seconds`` (a 429's ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _not_counted_by(self, sent: float, ends: float) -> int:
        """The requests an answer to a request sent at ``sent`` may not count yet that fall in its window: every
        one not gone out yet (a slot handed out earlier can leave later), and those that went out with it or
        after it."""
        planned = sum(1 for at in self._planned.values() if at < ends)
        return planned + sum(1 for at in self._out.values() if at >= sent)

    def _left_to_others(self, state: BucketState) -> int:
        """The requests of ``state``'s window this pacer leaves to others: in the account's bucket ``leave()``,
        all but one of the bucket's limit at most (of what remains when the answer does not say the limit)."""
        if self._leave is None or state.name != ACCOUNT_BUCKET:
            return 0
        return max(0, min(self._leave(), (state.limit or state.remaining) - 1))

    def _exhausted_until(self, at: float) -> float:
        """When the windows with no credit left at ``at`` have all ended (``at`` itself if none)."""
        ends = [w.ends for w in self._windows.values() if at < w.ends and w.left <= 0]
        return max(ends, default=at)

    def _learn_limit(self, state: BucketState) -> None:
        if state.name == EXPORT_BUCKET and state.limit:
            self.limit = state.limit
        elif self.limit is None:
            self.limit = DEFAULT_EXPORT_LIMIT  # limits apply; Zendesk's export limit unless the bucket says


def bucket_states(headers: Iterable[tuple[str, str]], server_time: float | None) -> list[BucketState]:
    """The rate-limit buckets an answer's headers describe (names lower-case): each ``zendesk-ratelimit-*``
    header, and the account bucket (``x-rate-limit-remaining``, ``ratelimit-remaining`` or
    ``rate-limit-remaining``, reset by ``ratelimit-reset``/``rate-limit-reset`` or else at the next minute of the
    server's clock). Unparseable values are left out."""
    found = dict(headers)
    states = [state for name, value in found.items() if name.startswith("zendesk-ratelimit-")
              for state in [_endpoint_state(name, value)] if state is not None]
    account = _account_state(found, server_time)
    return [*states, account] if account is not None else states


def _endpoint_state(name: str, value: str) -> BucketState | None:
    """``total=10; remaining=0; resets=42``."""
    fields = dict(part.strip().partition("=")[::2] for part in value.split(";"))
    try:
        total = int(fields["total"]) if "total" in fields else None
        return BucketState(name, total, int(fields.get("remaining", str(_UNLIMITED))),
                           float(fields.get("resets", "60")))
    except ValueError:
        return None


def _account_state(headers: dict[str, str], server_time: float | None) -> BucketState | None:
    remaining = _first(headers, "x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining")
    limit = _first(headers, "x-rate-limit", "ratelimit-limit", "rate-limit")
    reset = _first(headers, "ratelimit-reset", "rate-limit-reset")
    try:
        resets = float(reset) if reset is not None else None
        if resets is None:
            resets = 60 - server_time % 60 if server_time is not None else 60.0
        return BucketState(ACCOUNT_BUCKET, int(limit) if limit and limit.isascii() and limit.isdigit() else None,
                           int(remaining), resets) if remaining is not None else None
    except ValueError:
        return None


def _first(headers: dict[str, str], *names: str) -> str | None:
    return next((headers[name] for name in names if name in headers), None)


def auto_concurrency(latency: float, limit: int | None, ceiling: int) -> int:
    """Requests to keep in flight so that the budget, not the latency, sets the pace: enough to cover a
    request's round trip (plus a quarter for its variation) with slots ``60 / limit`` seconds apart. One when no
    limit is known (nothing to fill) or when one request at a time already keeps up."""
    if not limit:
        return 1
    return max(1, min(ceiling, math.ceil(1.25 * latency * limit / 60)))
