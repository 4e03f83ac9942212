"""Secrets never printed: database passwords in URLs and libpq keywords, whatever surrounds them."""

from __future__ import annotations

import pytest

from zendesk_export.redaction import redact_secrets


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql://etl:PASSWORD@db.internal:5432/warehouse", "postgresql://etl:***@db.internal:5432/warehouse"),
    ("cannot open output 'postgres://u:p%40ss@h/db?schema=z': refused",
     "cannot open output 'postgres://u:***@h/db?schema=z': refused"),
    ("postgresql://:only-password@h/db", "postgresql://:***@h/db"),
    ("postgresql://h/db?user=u&password=PASSWORD&sslmode=require",
     "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("host=h dbname=d password='pa ss' user=u", "host=h dbname=d password=*** user=u"),
    ("postgresql://etl@db/warehouse", "postgresql://etl@db/warehouse"),  # no password: nothing to hide
    ("http://127.0.0.1:8000/api/v2 and admin@example.com", "http://127.0.0.1:8000/api/v2 and admin@example.com"),
])
def test_database_passwords_are_masked(text: str, shown: str) -> None:
    assert redact_secrets(text) == shown
