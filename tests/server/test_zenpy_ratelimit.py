"""zenpy (the PyPI client, unchanged) against the server: a scripted 429 mid-export.

What zenpy does, read from its source (zenpy/lib/api.py, ``Api._call_api``): on a 429 it sleeps for
``Retry-After`` seconds (for real, one second at a time) and sends the same request again, for as long as the
answer is a 429 with a positive ``Retry-After``; a 429 without one falls through to ``_check_response``, which
raises ``APIException`` carrying the JSON body — no retry. It reaches the server through
``ZENPY_FORCE_SCHEME``/``ZENPY_FORCE_NETLOC`` (read in ``_build_url``/``base_url``), and stops a time-based
export when ``end_of_stream`` is true or when ``end_time`` is within 5 minutes of the machine's clock; the
server clock is frozen in the past so only ``end_of_stream`` ends it.
"""

from __future__ import annotations

from typing import Any

import pytest

from zendesk_export.testing import ZendeskServer

pytest.importorskip("zenpy", reason="zenpy could not be installed into its own virtualenv (offline?)")
from zenpy import Zenpy  # noqa: E402
from zenpy.lib.exception import APIException  # noqa: E402

TICKETS = 40
EXPORT = "/api/v2/incremental/tickets"


@pytest.fixture
def zenpy(zendesk_server: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> Zenpy:
    zendesk_server.admin.freeze(1_700_000_000)
    zendesk_server.admin.seed(tickets=TICKETS, random_seed=9)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zendesk_server.url.removeprefix("http://"))
    return Zenpy(subdomain="example", email=zendesk_server.email, token=zendesk_server.token)


def second_page_gets(action: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"match": {"method": "GET", "path": EXPORT}, "action": action, "every": 2, "times": 1}]


def export_ids(zenpy: Zenpy) -> set[int]:
    return {ticket.id for ticket in zenpy.tickets.incremental(start_time=0, paginate_by_time=True, per_page=10)}


def test_zenpy_waits_out_a_429_with_retry_after_and_exports_every_ticket(zendesk_server: ZendeskServer,
                                                                         zenpy: Zenpy) -> None:
    zendesk_server.admin.set_faults(second_page_gets({"status": 429, "headers": {"Retry-After": "1"}}))
    assert export_ids(zenpy) == set(range(1, TICKETS + 1))
    journal = zendesk_server.admin.requests()
    assert [e["status"] for e in journal[:3]] == [200, 429, 200]
    assert journal[1]["query"] == journal[2]["query"]  # the same page asked again after waiting
    assert journal[-1]["status"] == 200 and len(journal) > 3


def test_zenpy_gives_up_on_a_429_without_retry_after(zendesk_server: ZendeskServer, zenpy: Zenpy) -> None:
    zendesk_server.admin.set_faults(second_page_gets({"status": 429}))
    with pytest.raises(APIException, match="APIRateLimitExceeded"):
        export_ids(zenpy)
    assert [e["status"] for e in zendesk_server.admin.requests()] == [200, 429]  # no retry
