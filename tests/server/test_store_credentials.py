"""How credentials are kept: passwords salted and slow, API and OAuth tokens as keyed hashes (HMAC under a
secret of the database), and databases written before the keyed hashes still authenticate."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import httpx
import pytest

from zendesk_export.server.store import hash_password, open_store
from zendesk_export.server.store.sqlite import MIGRATIONS
from zendesk_export.testing import ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"
DEMO_TOKENS = {"api_token": "demo-token", "oauth_token": "demo-oauth-token"}


def _stored(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT kind, secret_hash FROM credentials WHERE user_id = 1").fetchall()
    db.close()
    found: dict[str, list[str]] = {}
    for kind, secret_hash in rows:
        found.setdefault(kind, []).append(secret_hash)
    return found


def test_tokens_are_stored_as_hashes_keyed_by_the_database(tmp_path: Path) -> None:
    """Neither the token nor its plain SHA-256 is in the database, and two databases hash one token apart, so a
    leaked table cannot be matched against a list of hashed tokens."""
    for name in ("a.db", "b.db"):
        open_store(str(tmp_path / name)).close()
    first, second = _stored(tmp_path / "a.db"), _stored(tmp_path / "b.db")
    for kind, token in DEMO_TOKENS.items():
        plain = hashlib.sha256(token.encode()).hexdigest()
        assert not any(token in h or plain in h for h in first[kind] + second[kind])
        assert first[kind] != second[kind]
    assert first["password"][0].startswith("pbkdf2$") and first["password"] != second["password"]


def _database_of_the_previous_version(path: Path) -> None:
    """The schema before keyed hashes, with the demo admin's tokens stored as unsalted SHA-256."""
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:3]:
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO accounts (subdomain) VALUES ('example')")
        db.execute("INSERT INTO users (account_id, id, name, email, role, created_at, updated_at) "
                   "VALUES (1, 1, 'Example Admin', 'admin@example.com', 'admin', 0, 0)")
        rows = [(kind, "sha256$" + hashlib.sha256(token.encode()).hexdigest()) for kind, token in DEMO_TOKENS.items()]
        rows.append(("password", hash_password("demo-password")))
        db.executemany("INSERT INTO credentials (account_id, user_id, kind, secret_hash) VALUES (1, 1, ?, ?)", rows)
    db.close()


@pytest.mark.parametrize("credentials", [
    {"auth": ("admin@example.com/token", "demo-token")},
    {"auth": ("admin@example.com", "demo-password")},
    {"headers": {"Authorization": "Bearer demo-oauth-token"}},
])
def test_a_database_of_the_previous_version_keeps_authenticating(tmp_path: Path,
                                                                 credentials: dict[str, object]) -> None:
    db = tmp_path / "old.db"
    _database_of_the_previous_version(db)
    server = ZendeskServer.start(db)
    try:
        response = httpx.get(server.url + EXPORT, params={"start_time": 0}, **credentials)  # type: ignore[arg-type]
    finally:
        server.stop()
    assert response.status_code == 200
    assert not any(h.startswith("sha256$") for hashes in _stored(db).values() for h in hashes)
