"""Scoped lists connectors read: an organization's tickets and the tickets a user requested, in both paging
styles, exactly the live tickets of the account that name that parent; a parent the account does not have is
404 RecordNotFound."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
SCOPES = [("/api/v2/organizations/{}/tickets", "organization_id"), ("/api/v2/users/{}/tickets/requested",
                                                                    "requester_id")]


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=120, random_seed=6)
    return zendesk_server


def _all_pages(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    tickets: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        body = client.get(url, params=params if url == path else None).json()
        tickets += body["tickets"]
        url = body["links"]["next"] if "meta" in body and body["meta"]["has_more"] else body.get("next_page")
    return tickets


@pytest.mark.parametrize("params", [{"per_page": 7}, {"page[size]": 7}], ids=["offset", "cursor"])
@pytest.mark.parametrize(("scoped", "column"), SCOPES, ids=["organization", "requester"])
def test_a_scoped_list_holds_exactly_the_parents_live_tickets(seeded: ZendeskServer, scoped: str, column: str,
                                                              params: dict[str, Any]) -> None:
    with seeded.client() as client:
        every = _all_pages(client, "/api/v2/tickets.json", {"per_page": 100})
        parent = max({t[column] for t in every if t[column]}, key=lambda p: sum(t[column] == p for t in every))
        listed = _all_pages(client, scoped.format(parent), params)
    expected = [t["id"] for t in every if t[column] == parent]
    assert len(expected) > 7, "the parent chosen fills more than one page"
    assert [t["id"] for t in listed] == expected


@pytest.mark.parametrize(("scoped", "column"), SCOPES, ids=["organization", "requester"])
@pytest.mark.parametrize("parent", ["999999", "9223372036854775808", "9" * 5000])
def test_a_parent_the_account_does_not_have_is_record_not_found(seeded: ZendeskServer, scoped: str, column: str,
                                                                parent: str) -> None:
    with seeded.client() as client:
        response = client.get(scoped.format(parent))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
