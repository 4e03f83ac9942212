"""Synthetic data: reproducible, and shaped like what breaks exporters."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from zendesk_export.server.model.seed import seed_account
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


def test_seeding_twice_adds_more_tickets(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "twice.db"))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, 50, 1, NOW)
    seed_account(store, account.id, 50, 1, NOW)
    assert len(store.export_rows(account.id, 0, NOW, 1000, False)) == 100
    store.close()
