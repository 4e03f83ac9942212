"""The server's clocks: every timestamp the server writes or compares comes from one, and every account has its
own.

An account's clock is a ``ClockState`` stored with the account (so a restart never moves it backwards): an
offset from wall time and, when frozen, the instant it stands at. Tests freeze it, advance it, and let it run
again; the admin API exposes exactly these operations.

Rate limits read the clock through ``limiter_time``. Running, it is ``now``. Frozen, it is the frozen instant,
except that a client refused with ``Retry-After: N`` who waits those N seconds for real finds the window over:
the refusal is recorded (``hold``), and once N real seconds have passed the limiter's time stands N seconds
past the frozen instant. Without that, a client that honours ``Retry-After`` against a frozen clock would be
refused forever; with it, every header stays exact (the limiter's time moves only when a refused client has
waited), and any change of the clock starts afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = ["ClockState", "Clock"]


@dataclass(frozen=True)
class ClockState:
    """An offset from wall time, and the instant the clock stands at while frozen. Pure arithmetic: every
    operation returns a new state, given the wall time it happens at."""

    offset: float = 0.0
    frozen_at: float | None = None
    ahead: float = 0.0  # frozen: how far the limiter's time stands past the frozen instant
    release_at: float | None = None  # frozen and held: the wall time from which the limiter stands at…
    release_ahead: float = 0.0  # …this far past the frozen instant

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

    def now(self, wall: float) -> float:
        return self.frozen_at if self.frozen_at is not None else wall + self.offset

    def limiter_time(self, wall: float) -> float:
        """The time rate-limit windows follow: ``now``, moved on while frozen by the waits of refused clients."""
        if self.frozen_at is None:
            return wall + self.offset
        return self.frozen_at + self._ahead(wall)

    def _ahead(self, wall: float) -> float:
        released = self.release_at is not None and wall >= self.release_at
        return self.release_ahead if released else self.ahead

    def hold(self, wall: float, seconds: float) -> ClockState:
        """A rate limit refused a request for ``seconds`` (its Retry-After): once as many real seconds have
        passed, the limiter's time moves on by as much. A refusal during a pending hold keeps the first."""
        if self.frozen_at is None or (self.release_at is not None and wall < self.release_at):
            return self
        ahead = self._ahead(wall)
        return replace(self, ahead=ahead, release_at=wall + seconds, release_ahead=ahead + seconds)

    def freeze(self, at: float | None, wall: float) -> ClockState:
        instant = self.now(wall) if at is None else float(at)
        return ClockState(instant - wall, instant)

    def advance(self, seconds: float) -> ClockState:
        frozen = None if self.frozen_at is None else self.frozen_at + seconds
        return ClockState(self.offset + seconds, frozen)

    def unfreeze(self, wall: float) -> ClockState:
        """Time runs on from the frozen instant."""
        return self if self.frozen_at is None else ClockState(self.frozen_at - wall, None)

    def describe(self, wall: float) -> dict[str, object]:
        return {"now": int(self.now(wall)), "frozen": self.frozen}


Change = Callable[[ClockState], ClockState]


class Clock:
    """One clock: a state and the wall time it is read against. By default the state lives in this object;
    given ``load`` and ``change`` it lives elsewhere (an account's row: ``change`` applies an operation
    atomically and returns the new state)."""

    def __init__(self, source: Callable[[], float] = time.time, *, load: Callable[[], ClockState] | None = None,
                 change: Callable[[Change], ClockState] | None = None) -> None:
        self._source = source
        self._state = ClockState()
        self._lock = threading.Lock()
        self._load = load or (lambda: self._state)
        self._change = change or self._change_here

    def _change_here(self, change: Change) -> ClockState:
        with self._lock:
            self._state = change(self._state)
            return self._state

    def wall(self) -> float:
        return self._source()

    def now(self) -> float:
        return self._load().now(self._source())

    def limiter_time(self) -> float:
        return self._load().limiter_time(self._source())

    @property
    def frozen(self) -> bool:
        return self._load().frozen

    def freeze(self, at: float | None = None) -> None:
        self._change(lambda s: s.freeze(at, self._source()))

    def advance(self, seconds: float) -> None:
        self._change(lambda s: s.advance(seconds))

    def unfreeze(self) -> None:
        self._change(lambda s: s.unfreeze(self._source()))

    def reset(self) -> None:
        """Back to real wall time, unfrozen."""
        self._change(lambda s: ClockState())

    def state(self) -> dict[str, object]:
        return self._load().describe(self._source())
