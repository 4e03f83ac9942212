"""Fault rules shared by several server processes on one database (``serve --workers N``).

The contract of ``faults`` holds whatever process answers: a rule set through the admin API acts on the next
matching request, and its triggers (``times``, ``every``, ``probability`` with its ``seed``, a latency drawn
from a distribution) count every matching request of every process, in the order the store serialises them —
the sequence of faults one process would have produced.

Where each part lives:

- The rules: in the account's settings (``accounts.settings["faults"]``: the rule specs and a generation, a
  random token new with every ``PUT``/``DELETE``). Every request already reads its account row, so a process
  sees a change at the next request without any extra query; it parses the rules once per generation.
- The counters (each rule's ``seen``, ``fired`` and how many numbers its generator has drawn): one row of the
  store's shared state per account, changed atomically by the request that matches a rule. A request that
  matches no rule touches nothing; one that matches pays one short write.
- The generators: rebuilt from the rule's seed in each process and fast-forwarded to the stored number of
  draws before use (each draw is one ``random()`` call), so the shared sequence is the one seed's sequence.
  A process that served the previous match is already there: fast-forwarding costs what the other processes
  drew meanwhile.

Rules loaded at start (``serve --faults``) apply to every account that has never had a ``PUT``; every process
was given the same file, so they share one set of counters per account too.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable
from typing import Any

import orjson

from zendesk_export.server.edge.faults import Fired, Rule, parse_rules
from zendesk_export.server.store import Account, Store

__all__ = ["SharedFaultInjector", "SharedFaultInjectors", "SETTING"]

SETTING = "faults"  # key in accounts.settings: {"generation": str, "rules": [spec, …]}
STATE = "fault_counters"  # name of the shared state row: {"generation": str, "counters": [[seen, fired, draws]]}
INITIAL = "initial"  # generation of the rules given at start


class _CountingRandom(random.Random):
    """A generator that knows how many numbers it has drawn (``uniform`` and ``expovariate`` draw one each)."""

    def __init__(self, seed: int | str) -> None:
        super().__init__(seed)
        self.seed_value = seed
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return super().random()


def _synced(rng: _CountingRandom, draws: int) -> _CountingRandom:
    """``rng`` advanced to ``draws`` numbers drawn (a fresh one from the seed if it went past them)."""
    if rng.draws > draws:
        rng = _CountingRandom(rng.seed_value)
    while rng.draws < draws:
        rng.random()
    return rng


class _Generation:
    """One generation of an account's rules, parsed, with this process's generators."""

    def __init__(self, generation: str, specs: list[dict[str, Any]]) -> None:
        self.generation, self.specs = generation, specs
        self.rules: list[Rule] = parse_rules(specs)
        for rule in self.rules:
            rule.rng = _CountingRandom(rule.spec.get("seed", 0))

    def counters(self, stored: str | None) -> list[list[int]]:
        state = orjson.loads(stored) if stored else None
        if state is None or state.get("generation") != self.generation or len(state["counters"]) != len(self.rules):
            return [[0, 0, 0] for _ in self.rules]
        return [list(c) for c in state["counters"]]

    def encode(self, counters: list[list[int]]) -> str:
        return orjson.dumps({"generation": self.generation, "counters": counters}).decode()

    def trigger(self, index: int, counters: list[list[int]]) -> Fired | None:
        """Advance rule ``index`` by one matching request, from and into ``counters``; the fault if it fires."""
        rule = self.rules[index]
        assert isinstance(rule.rng, _CountingRandom)
        rule.seen, rule.fired, draws = counters[index]
        rule.rng = _synced(rule.rng, draws)
        fired = Fired(index, rule.action, rule.delay()) if rule.fires() else None
        counters[index] = [rule.seen, rule.fired, rule.rng.draws]
        return fired


class SharedFaultInjector:
    """One account's rules as the store holds them; the same methods as ``faults.FaultInjector``."""

    def __init__(self, store: Store, account_id: int, current: _Generation, remember: Callable[[_Generation], None],
                 lock: threading.Lock) -> None:
        self.store, self.account_id, self._current = store, account_id, current
        self._remember, self._lock = remember, lock

    @property
    def active(self) -> bool:
        return bool(self._current.rules)

    def replace(self, rules: list[Rule]) -> None:
        specs = [rule.spec for rule in rules]
        generation = secrets.token_hex(8)
        self.store.set_account_setting(self.account_id, SETTING, {"generation": generation, "rules": specs})
        self._current = _Generation(generation, specs)
        self._remember(self._current)

    def state(self) -> list[dict[str, Any]]:
        current = self._current
        counters = current.counters(self.store.change_shared_state(self.account_id, STATE, lambda value: value or ""))
        return [{**rule.spec, "seen": seen, "fired": fired}
                for rule, (seen, fired, _) in zip(current.rules, counters, strict=True)]

    def pick(self, method: str, path: str, account: Callable[[], str]) -> Fired | None:
        """The fault for this request, if a rule fires; only a request that matches a rule writes to the store.
        The process's lock keeps its generators to one thread at a time; the store's lock orders processes."""
        current = self._current
        matching = [i for i, rule in enumerate(current.rules) if rule.matches(method, path, account)]
        if not matching:
            return None
        fired: Fired | None = None

        def advance(stored: str | None) -> str:
            nonlocal fired
            counters = current.counters(stored)
            for index in matching:
                fired = current.trigger(index, counters)
                if fired is not None:
                    break
            return current.encode(counters)

        with self._lock:
            self.store.change_shared_state(self.account_id, STATE, advance)
        return fired


class SharedFaultInjectors:
    """The rules of each account, read from its settings (the rules given at start until the first ``PUT``).
    Thread-safe: each account's parsed rules are cached by generation."""

    shared = True

    def __init__(self, store: Store, initial: list[dict[str, Any]] | None = None) -> None:
        self.store = store
        self.initial = list(initial or [])
        parse_rules(self.initial)  # refuse bad rules at start, not at the first request
        self._generations: dict[int, _Generation] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def of(self, account: Account) -> SharedFaultInjector:
        stored = account.settings.get(SETTING) or {"generation": INITIAL, "rules": self.initial}
        with self._lock:
            current = self._generations.get(account.id)
            if current is None or current.generation != stored["generation"]:
                current = self._generations[account.id] = _Generation(stored["generation"], stored["rules"])
            lock = self._locks.setdefault(account.id, threading.Lock())
        return SharedFaultInjector(self.store, account.id, current, self._remember(account.id), lock)

    def _remember(self, account_id: int) -> Callable[[_Generation], None]:
        def remember(generation: _Generation) -> None:
            with self._lock:
                self._generations[account_id] = generation

        return remember

    def drop(self, account_id: int) -> None:
        """Forget the account's parsed rules (its settings and counters go with its rows)."""
        with self._lock:
            self._generations.pop(account_id, None)
            self._locks.pop(account_id, None)
