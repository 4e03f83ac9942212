"""A bounded schemathesis run over our own ``/api/v2/openapi.json``, against a real server on a real port.

For every operation the document lists, schemathesis sends requests made from the document (valid ones, and
ones that break it: wrong types, missing parameters, bodies the schema refuses) and we hold the server to three
promises: never a 5xx, every answer the document describes (status, content type, body schema), and a refused
request (any 4xx) leaves the account's data exactly as it was, checked by a digest of every row of the account
taken before and after each refused call.

The run is seeded and derandomised, so it sends the same requests every time. ``ZENDESK_EXPORT_SCHEMATHESIS_EXAMPLES``
sets the examples per operation and mode (default 4, what CI runs); the longer run is::

    ZENDESK_EXPORT_SCHEMATHESIS_EXAMPLES=200 python -m pytest tests/server/test_schemathesis.py
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from zendesk_export.server.resources import RESOURCES
from zendesk_export.server.resources.openapi import openapi_document
from zendesk_export.server.resources.operations import OPERATIONS
from zendesk_export.testing import ZendeskServer

EXAMPLES = int(os.environ.get("ZENDESK_EXPORT_SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Tables every row of which belongs to one account; rate-limit counters live in a side file, and job statuses
# count their reads (a read of a job moves it on, as Zendesk's do), so a refused read never touches them.
ACCOUNT_TABLES = ("users", "credentials", "sequences", "audits", "tickets", "organizations", "groups",
                  "job_statuses", "records", "satisfaction_ratings")


class Server:
    """The running server, its database file, and a session authenticated as the demo admin."""

    def __init__(self, server: ZendeskServer, db: Path) -> None:
        self.server, self.db = server, db
        self.session = requests.Session()
        self.session.auth = server.auth

    def digest(self) -> str:
        """A hash of every row the default account owns (read from the database file, not through the API)."""
        sha = hashlib.sha256()
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            account = conn.execute("SELECT id FROM accounts WHERE subdomain = 'example'").fetchone()[0]
            for table in ACCOUNT_TABLES:
                for row in conn.execute(f"SELECT * FROM {table} WHERE account_id = ? ORDER BY 2, 3", (account,)):
                    sha.update(repr(row).encode())
        conn.close()
        return sha.hexdigest()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = Path(tmp_path_factory.mktemp("schemathesis")) / "zendesk.db"
    server = ZendeskServer.start(db)
    try:
        server.admin.freeze(1_750_000_000)
        server.admin.seed(tickets=20, random_seed=5)
        yield Server(server, db)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(running: Server) -> Any:
    document = httpx.get(f"{running.server.url}/api/v2/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(document)


def _labels() -> list[str]:
    """Every operation of the document, named as schemathesis names it (``GET /api/v2/brands``)."""
    document = openapi_document(RESOURCES, "http://127.0.0.1", OPERATIONS)
    return [f"{method.upper()} {path}" for path, operations in document["paths"].items() for method in operations]


MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize("label", _labels())
def test_every_operation_answers_as_documented_and_refusals_change_nothing(
        api_schema: Any, running: Server, label: str, mode: schemathesis.GenerationMode) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is in the document the server generates, but not in the one it serves"

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def answers(case: Any) -> None:
        before = running.digest()
        response = case.call(base_url=running.server.url, session=running.session)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert running.digest() == before, f"{case.method} {case.formatted_path} answered "\
                f"{response.status_code} yet changed the account's data"

    answers()
