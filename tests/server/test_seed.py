"""Synthetic data: reproducible, and shaped like what breaks exporters."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from functools import partial
from pathlib import Path

import orjson
import pytest

from zendesk_export.server.model import seed, seed_worker
from zendesk_export.server.model.audits import comment_event, field_event
from zendesk_export.server.model.seed import SeedRandom, seed_account
from zendesk_export.server.store.sql import Reserved, audit_row
from zendesk_export.server.store.sqlite import SQLiteStore

NOW = 1_800_000_000


def seeded(tmp_path: Path, name: str, tickets: int, random_seed: int) -> list[dict]:
    store = SQLiteStore(str(tmp_path / name))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, random_seed, NOW)
    rows = store.export_rows(account.id, 0, NOW, 10**6, False)
    result = [store.get_ticket(account.id, r.id) for r in rows]
    store.close()
    return [t for t in result if t is not None]


def test_same_seed_gives_the_same_tickets(tmp_path: Path) -> None:
    assert seeded(tmp_path, "a.db", 300, 7) == seeded(tmp_path, "b.db", 300, 7)


def test_seeded_data_has_bursts_deletions_scrubs_and_variety(tmp_path: Path) -> None:
    tickets = seeded(tmp_path, "z.db", 3000, 1)
    assert len(tickets) == 3000
    per_second = Counter(t["generated_timestamp"] for t in tickets)
    assert max(per_second.values()) >= 100
    statuses = Counter(t["status"] for t in tickets)
    assert set(statuses) == {"new", "open", "pending", "hold", "solved", "closed", "deleted"}
    assert any(t["subject"] == "SCRUBBED" and t["description"] == "X" for t in tickets)
    assert all(t["generated_timestamp"] <= NOW - 61 for t in tickets)
    assert all(t["updated_at"] <= t["generated_timestamp"] for t in tickets)
    spread = max(t["created_at"] for t in tickets) - min(t["created_at"] for t in tickets)
    assert spread > 90 * 86_400
    assert any(t["tags"] for t in tickets) and any(t["satisfaction_rating"] for t in tickets)


@pytest.mark.parametrize("in_worker", [False, True])
def test_seeded_tickets_and_audits_are_numbered_in_the_order_they_were_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_worker: bool) -> None:
    """As Zendesk numbers them: a ticket created later has a higher id, and an audit made later has a higher
    id than every earlier one (a ticket's update after tickets created since), with the ids of its events; a
    burst's tickets stay together. Several batches, rendered here or in the worker process."""
    tickets = 5000
    monkeypatch.setattr(seed_worker, "WORKER_FROM", 1000 if in_worker else 10**6)
    store = SQLiteStore(str(tmp_path / "order.db"))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, 1, NOW)
    ids = sorted(row.id for row in store.export_rows(account.id, 0, NOW, 10**6, False))
    created = [ticket["created_at"] for ticket in map(partial(store.get_ticket, account.id), ids) if ticket]
    assert len(created) == tickets and created == sorted(created)
    seconds = [second for second, _ in itertools.groupby(created)]
    assert len(seconds) == len(set(seconds))  # every second's tickets, a burst's too, are neighbours
    audits = sorted((orjson.loads(row.body) for row in store.audits_of_tickets(account.id, ids)),
                    key=lambda audit: audit["id"])
    assert len(audits) > tickets  # updated tickets have a second audit
    assert [audit["created_at"] for audit in audits] == sorted(audit["created_at"] for audit in audits)
    event_ids = [event["id"] for audit in audits for event in audit["events"]]
    assert event_ids == sorted(event_ids)
    store.close()


def test_seeding_twice_adds_more_tickets(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "twice.db"))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, 50, 1, NOW)
    seed_account(store, account.id, 50, 1, NOW)
    assert len(store.export_rows(account.id, 0, NOW, 1000, False)) == 100
    store.close()


@pytest.mark.parametrize("random_seed", [0, 1, 7, 20_240_601])
def test_seed_random_draws_exactly_what_random_draws(random_seed: int) -> None:
    """The seed's faster ``choice``/``randrange``/``randint`` leave every seeded account as it was: fed the same
    seed, they return the numbers ``random.Random`` returns, call after call, with every other kind of draw
    interleaved (sizes of 1, of powers of two and around them, where ``_randbelow`` rejects the most)."""
    ours, theirs = SeedRandom(random_seed), random.Random(random_seed)
    sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 63, 64, 65, 700, 86_400 * 180, 10**6, 2**31 - 1, 2**31]
    for n in sizes * 50:
        seq = tuple(range(n)) if n <= 700 else range(n)
        assert ours.choice(seq) == theirs.choice(seq)
        assert ours.randrange(n) == theirs.randrange(n)
        assert ours.randrange(100, 100 + n) == theirs.randrange(100, 100 + n)
        assert ours.randint(1, n) == theirs.randint(1, n)
        assert ours.randint(0, n - 1) == theirs.randint(0, n - 1)
        assert ours.sample(range(max(n, 3)), 3) == theirs.sample(range(max(n, 3)), 3)
        pool = list(range(n % 23))
        for k in range(min(len(pool), 6) + 1):
            assert ours.sample(pool, k) == theirs.sample(pool, k)
            assert ours.sample(tuple(pool), k) == theirs.sample(tuple(pool), k)
        assert ours.random() == theirs.random()
        assert ours.expovariate(1 / 3600) == theirs.expovariate(1 / 3600)
    assert ours.getstate() == theirs.getstate()


def test_seed_random_refuses_what_random_refuses() -> None:
    """Arguments seeding never passes still behave as ``random.Random``'s: errors included."""
    for call in (lambda r: r.choice(()), lambda r: r.randrange(0), lambda r: r.randrange(5, 5),
                 lambda r: r.randint(3, 1), lambda r: r.sample([1, 2], 3), lambda r: r.sample((), 1)):
        with pytest.raises((IndexError, ValueError)):
            call(SeedRandom(1))
        with pytest.raises((IndexError, ValueError)):
            call(random.Random(1))
    assert SeedRandom(3).randrange(0, 10, 3) == random.Random(3).randrange(0, 10, 3)


@pytest.mark.parametrize("comment_first", [True, False])
def test_an_audit_rendered_before_numbering_is_numbered_as_its_dict_would_be(comment_first: bool) -> None:
    """Seeded audits are rendered before their ids are known (``RenderedAudit``): numbered, they are the rows
    the same audits as dicts give, a ``%`` in their text included."""
    via = {"channel": "email", "source": {"from": {"address": "a%b@example.net"}, "to": {}, "rel": None}}
    comment = [comment_event(None, 7, "100% broken", True, None)] if comment_first else []
    events = [*comment, field_event(None, "subject", "100% broken"), field_event(None, "status", "open", "new"),
              field_event(None, "tags", ["a", "b"])]
    as_dict = {"id": None, "ticket_id": None, "created_at": "2027-01-15T08:00:00Z", "author_id": 7,
               "metadata": {"system": {"client": None, "ip_address": None, "location": None, "latitude": None,
                                       "longitude": None}, "custom": {}},
               "events": events, "via": via, "created_at_epoch": 1_800_000_000}
    rendered = [seed._comment(7, "100% broken")] if comment_first else []
    rendered += [seed._field_event("subject", "100% broken"), seed._cached_field_event("status", "open", "new"),
                 seed._field_event("tags", ["a", "b"])]
    audit = seed._audit(1_800_000_000, 7, rendered, comment_first, seed._template(orjson.dumps(via)))
    starts = {"audits": 30, "events": 500}
    assert audit_row(1, 9, audit, Reserved(starts)) == audit_row(1, 9, as_dict, Reserved(starts))
