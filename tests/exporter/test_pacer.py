"""The pacer on a fake clock against a simulated Zendesk bucket (fixed calendar minutes, counted on arrival):
whatever the number of requests in flight, their latencies, the alignment with the server's minutes or what
others already spent, no minute ever takes more than its limit, and the limit is used."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zendesk_export.exporter.pacer import Pacer, auto_concurrency, bucket_states

HEADER = "zendesk-ratelimit-incremental-exports"


@dataclass
class Bucket:
    """Zendesk's export bucket: ``limit`` requests per calendar minute of the server's clock, which is ``skew``
    seconds ahead of ours; ``spent`` requests of the first minute were used by someone else."""

    limit: int
    skew: float = 0.0
    spent: int = 0
    counts: dict[int, int] = field(default_factory=dict)

    def hit(self, now: float) -> list[tuple[str, str]]:
        server = now + self.skew
        minute = int(server // 60)
        if not self.counts:
            self.counts[minute] = self.spent
        self.counts[minute] = self.counts.get(minute, 0) + 1
        remaining = max(0, self.limit - self.counts[minute])
        resets = math.ceil((minute + 1) * 60 - server) or 1
        return [(HEADER, f"total={self.limit}; remaining={remaining}; resets={resets}")]


def simulate(bucket: Bucket, workers: int, latencies: list[float], minutes: int, spread: bool = True,
             late: list[float] = [0.0]) -> int:  # noqa: B006 (never mutated)
    """``workers`` loops of reserve → send → answer after a latency (cycled from ``latencies``) → observe,
    driven by one event queue on a fake clock, for ``minutes`` minutes. Each request goes out ``late`` seconds
    (cycled) after its slot, as on a busy machine where a thread wakes late. As in an export, the first request
    goes alone and the other workers join when it is answered. The requests that arrived within the minutes."""
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0], spread=spread)
    events: list[tuple[float, int, str, int]] = [(0.0, 0, "free", 0)]
    sent, arrived, answers = 0, 0, {}
    while events:
        at, worker, kind, seq = heapq.heappop(events)
        now[0] = at
        if kind == "answer":
            pacer.observe(seq, bucket_states(answers.pop(seq), None))
            if seq == 1:
                events += [(at, other, "free", 0) for other in range(1, workers)]
                heapq.heapify(events)
            kind = "free"
        if kind == "free" and at < minutes * 60:
            slot = pacer.reserve()
            heapq.heappush(events, (at + slot.delay + late[slot.seq % len(late)], worker, "send", slot.seq))
        elif kind == "send":
            arrival = at
            pacer.sending(seq)
            answers[seq] = bucket.hit(arrival)
            sent += 1
            arrived += arrival < minutes * 60
            latency = latencies[sent % len(latencies)]
            heapq.heappush(events, (arrival + latency, worker, "answer", seq))
    return arrived


@settings(max_examples=60, deadline=None)
@given(workers=st.integers(1, 6), limit=st.sampled_from([10, 30, 60]),
       latencies=st.lists(st.floats(0.01, 12.0), min_size=1, max_size=5),
       skew=st.floats(0, 59.99), spent=st.integers(0, 9))
def test_no_minute_ever_takes_more_than_the_limit(workers, limit, latencies, skew, spent):
    """``spent`` of the first minute used by others before we start (all of it would be the 429 of the first
    request, before any header could tell)."""
    bucket = Bucket(limit, skew, spent)
    simulate(bucket, workers, latencies, minutes=5)
    assert max(bucket.counts.values()) <= limit


@settings(max_examples=60, deadline=None)
@given(workers=st.integers(1, 6), limit=st.sampled_from([10, 30, 60]),
       latencies=st.lists(st.floats(0.01, 12.0), min_size=1, max_size=5),
       late=st.lists(st.floats(0, 5.0), min_size=1, max_size=5), skew=st.floats(0, 59.99), spread=st.booleans())
def test_requests_that_go_out_late_never_overfill_a_minute(workers, limit, latencies, late, skew, spread):
    """A request that leaves seconds after its slot (a busy machine) is counted in the minute it arrives in:
    the windows are reckoned from when requests went out, not from when they were planned to."""
    bucket = Bucket(limit, skew)
    simulate(bucket, workers, latencies, minutes=5, spread=spread, late=late)
    assert max(bucket.counts.values()) <= limit


@pytest.mark.parametrize("latency", [0.05, 1.5, 8.0, 20.0])
def test_the_automatic_concurrency_uses_at_least_95_percent_of_the_limit(latency):
    """Ten minutes at 10 requests a minute: 100 requests at most; with the automatic number in flight, 95 or
    more, whatever the latency."""
    bucket = Bucket(limit=10, skew=17.3)
    workers = auto_concurrency(latency, 10, 8)
    sent = simulate(bucket, workers, [latency], minutes=10)
    assert 95 <= sent <= 100 and max(bucket.counts.values()) <= 10


def test_one_request_at_a_time_spends_the_bucket_then_waits_for_its_reset():
    """Sequentially (no spreading), requests go at once while the bucket has some left: ten in the first
    seconds of a minute, then nothing until the next one."""
    bucket = Bucket(limit=10, skew=0.0)
    simulate(bucket, 1, [0.5], minutes=3, spread=False)
    assert list(bucket.counts.values())[:3] == [10, 10, 10]


def test_a_429_holds_every_slot_back():
    now = [100.0]
    pacer = Pacer(clock=lambda: now[0], spread=True)
    pacer.block(30)
    slot = pacer.reserve()
    assert (slot.delay, slot.budget) == (30, True)


def test_the_limit_comes_from_the_export_bucket_else_zendesks_ten_else_none():
    pacer = Pacer()
    pacer.observe(pacer.reserve().seq, bucket_states([], None))
    assert pacer.limit is None  # no rate-limit header at all: nothing to pace
    pacer.observe(pacer.reserve().seq, bucket_states([("x-rate-limit", "700"), ("x-rate-limit-remaining", "699")],
                                                     None))
    assert pacer.limit == 10  # the account's headers only: the documented export limit
    pacer.observe(pacer.reserve().seq, bucket_states([(HEADER, "total=30; remaining=29; resets=12")], None))
    assert pacer.limit == 30  # High Volume, as the bucket says


def test_spreading_puts_slots_sixty_over_the_limit_seconds_apart_plus_a_margin():
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0], spread=True)
    pacer.limit = 10
    delays = [pacer.reserve().delay for _ in range(3)]
    assert delays == pytest.approx([0.0, 6.12, 12.24])


@pytest.mark.parametrize(("latency", "limit", "expected"), [
    (0.05, 10, 1),  # a local server: one at a time keeps up
    (1.5, 10, 1),  # a request takes a quarter of a slot
    (8.0, 10, 2),  # a request takes longer than a slot
    (8.0, 30, 5),  # High Volume
    (30.0, 700, 8),  # capped
    (8.0, None, 1),  # no limit known: nothing to fill
])
def test_automatic_concurrency_covers_a_round_trip_with_slots(latency, limit, expected):
    assert auto_concurrency(latency, limit, 8) == expected


def test_unparseable_rate_limit_headers_are_ignored():
    states = bucket_states([(HEADER, "total=ten; remaining=?"), ("x-rate-limit-remaining", "many")], None)
    assert states == []


def test_an_older_answer_arriving_late_never_gives_back_credit():
    """Answers can come back in any order; an older one never gives back credit a newer one took."""
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    first, second = pacer.reserve(), pacer.reserve()
    pacer.observe(second.seq, bucket_states([(HEADER, "total=10; remaining=0; resets=40")], None))
    pacer.observe(first.seq, bucket_states([(HEADER, "total=10; remaining=1; resets=40")], None))
    slot = pacer.reserve()
    assert slot.budget and slot.delay == pytest.approx(40.5)


def test_a_pacer_that_leaves_requests_to_others_stops_that_many_short_of_the_accounts_minute():
    """The reference lists' pacer stops with ``leave()`` requests of the account's minute unspent, then waits
    for the reset; the others' pacer spends on. It keeps at least one request of the account's limit."""
    now = [0.0]
    share = [10]
    lists = Pacer(clock=lambda: now[0], leave=lambda: share[0])
    exports = Pacer(clock=lambda: now[0])
    account = [("x-rate-limit", "40"), ("x-rate-limit-remaining", "25"), ("ratelimit-reset", "30")]
    lists.observe(lists.reserve().seq, bucket_states(account, None))
    assert [lists.reserve().delay for _ in range(16)] == [0.0] * 15 + [pytest.approx(30.5)]
    exports.observe(exports.reserve().seq, bucket_states(account, None))
    assert [exports.reserve().delay for _ in range(25)] == [0.0] * 25
    share[0] = 20  # the others' share grew (their limit became known): the lists stop sooner
    lists = Pacer(clock=lambda: now[0], leave=lambda: share[0])
    lists.observe(lists.reserve().seq, bucket_states(account, None))
    assert [lists.reserve().delay for _ in range(6)] == [0.0] * 5 + [pytest.approx(30.5)]
    share[0] = 100  # more than the account's limit of 40: the lists keep one request of each minute
    lists = Pacer(clock=lambda: now[0], leave=lambda: share[0])
    lists.observe(lists.reserve().seq, bucket_states([account[0], ("x-rate-limit-remaining", "39"), account[2]], None))
    assert lists.reserve().delay == pytest.approx(30.5)


@pytest.mark.parametrize("limit", ["0", "-5", "99999999999999999999999", "７"])
def test_hostile_account_headers_leave_a_pacer_that_leaves_requests_waiting_for_the_reset(limit):
    """An account bucket that says it has no credit, whatever odd limit comes with it (zero, negative, beyond
    64 bits, a digit of another script), holds the lists back until the reset: never an error, never credit
    made up from the share left to others."""
    now = [0.0]
    lists = Pacer(clock=lambda: now[0], leave=lambda: 13)
    headers = [("x-rate-limit", limit), ("x-rate-limit-remaining", "-3"), ("ratelimit-reset", "20")]
    lists.observe(lists.reserve().seq, bucket_states(headers, None))
    slot = lists.reserve()
    assert slot.budget and slot.delay == pytest.approx(20.5)
