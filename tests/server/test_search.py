"""Search, end to end: the query terms connectors send find exactly the matching tickets, users and
organizations; search.json stops at 1000 results; the export walks every result once, newest first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import parse_time

T0 = 1_750_000_000  # 2025-06-15T15:06:40Z


def get(server: ZendeskServer, path: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params)


def create(server: ZendeskServer, **fields: Any) -> int:
    with server.client() as client:
        response = client.post("/api/v2/tickets.json", json={"ticket": {"comment": "c", **fields}})
    assert response.status_code == 201
    return int(response.json()["ticket"]["id"])


def found(server: ZendeskServer, query: str, **params: Any) -> list[int]:
    body = get(server, "/api/v2/search.json", query=query, **params).json()
    return [r["id"] for r in body["results"]]


@pytest.fixture
def tickets(zendesk_server: ZendeskServer) -> dict[str, int]:
    """Three tickets a day apart (T0 - 2 days, T0 - 1 day, T0), the clock then two hours after T0."""
    zendesk_server.admin.freeze(T0 - 2 * 86_400)
    made = {"refund": create(zendesk_server, subject="Refund please", tags=["billing", "vip"], status="open")}
    zendesk_server.admin.advance(86_400)
    made["login"] = create(zendesk_server, subject="Cannot LOGIN", tags=["login"], priority="high")
    zendesk_server.admin.advance(86_400)
    made["solved"] = create(zendesk_server, subject="Refund done", status="solved", type="question")
    zendesk_server.admin.advance(7200)
    return made


@pytest.mark.parametrize(("query", "expected"), [
    ("type:ticket", ["solved", "login", "refund"]),
    ('type:"ticket" refund', ["solved", "refund"]),
    ("refund please", ["refund"]),
    ("status:open", ["refund"]),
    ("status<solved", ["login", "refund"]),
    ("status>=solved", ["solved"]),
    ("tags:vip", ["refund"]),
    ("tags:billing status:new", []),
    ("priority:high", ["login"]),
    ("ticket_type:question", ["solved"]),
    ("created>2025-06-13", ["solved", "login"]),
    ("created:2025-06-14", ["login"]),
    ("created<2025-06-14", ["refund"]),
    ("updated>=2025-06-14T15:06:40Z", ["solved", "login"]),
    ("updated>3hours", ["solved"]),
    ("updated<1days", ["login", "refund"]),
    ("login", ["login"]),
])
def test_terms_find_exactly_the_matching_tickets(zendesk_server: ZendeskServer, tickets: dict[str, int],
                                                 query: str, expected: list[str]) -> None:
    """Newest first; free text is case-insensitive and every word must match the subject."""
    assert found(zendesk_server, f"type:ticket {query}") == [tickets[name] for name in expected]


def test_without_type_users_and_organizations_are_found_too(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        client.post("/api/v2/organizations.json", json={"organization": {"name": "Zebra Corp"}})
        client.post("/api/v2/users.json", json={"user": {"name": "Zebra Person", "email": "z@example.org"}})
    create(zendesk_server, subject="zebra crossing")
    body = get(zendesk_server, "/api/v2/search.json", query="zebra").json()
    assert [r["result_type"] for r in body["results"]] == ["ticket", "user", "organization"]
    assert body["count"] == 3 and body["facets"] is None
    users = get(zendesk_server, "/api/v2/search.json", query="type:user role:end-user zebra").json()
    assert [r["name"] for r in users["results"]] == ["Zebra Person"]


def test_deleted_tickets_are_never_found(zendesk_server: ZendeskServer, tickets: dict[str, int]) -> None:
    with zendesk_server.client() as client:
        client.delete(f"/api/v2/tickets/{tickets['login']}.json")
    assert tickets["login"] not in found(zendesk_server, "type:ticket")


def test_count_is_the_number_search_finds(zendesk_server: ZendeskServer, tickets: dict[str, int]) -> None:
    assert get(zendesk_server, "/api/v2/search/count.json", query="type:ticket refund").json() == {"count": 2}


def test_search_json_stops_at_1000_results(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=1200, random_seed=1)
    last = get(zendesk_server, "/api/v2/search.json", query="type:ticket", page=10, per_page=100)
    assert last.status_code == 200 and last.json()["next_page"] is None and len(last.json()["results"]) == 100
    beyond = get(zendesk_server, "/api/v2/search.json", query="type:ticket", page=11, per_page=100)
    assert (beyond.status_code, beyond.json()) == (422, {
        "error": "invalid",
        "description": "Invalid search: Requested response size was greater than Search Response Limits"})


def test_export_walks_every_result_once_newest_first(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=120, random_seed=2)
    results: list[dict[str, Any]] = []
    with zendesk_server.client() as client:
        body = client.get("/api/v2/search/export.json", params={
            "query": "created>2000-01-01", "filter[type]": "ticket", "page[size]": 25}).json()
        results += body["results"]
        while body["meta"]["has_more"]:
            assert body["links"]["prev"] is None and body["meta"]["before_cursor"] is None
            body = client.get(body["links"]["next"]).json()
            results += body["results"]
    expected = get(zendesk_server, "/api/v2/search/count.json", query="type:ticket").json()["count"]
    assert len(results) == expected == len({r["id"] for r in results})
    keys = [(-parse_time(r["created_at"]), r["id"]) for r in results]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("params", "status", "error"), [
    ({"query": "type:ticket"}, 400, "ParameterMissing"),
    ({"filter[type]": "ticket"}, 400, "ParameterMissing"),
    ({"query": "x", "filter[type]": "ticket", "page[after]": "garbage"}, 400, "InvalidPaginationParameter"),
    ({"query": "x", "filter[type]": "ticket", "page[size]": 1001}, 400, "InvalidPaginationParameter"),
    ({"query": "x", "filter[type]": "widget"}, 400, "InvalidValue"),
    ({"query": "created>2025-13-45", "filter[type]": "ticket"}, 400, "InvalidValue"),
])
def test_export_refuses_bad_requests_with_zendesks_errors(zendesk_server: ZendeskServer, params: dict[str, Any],
                                                          status: int, error: str) -> None:
    response = get(zendesk_server, "/api/v2/search/export.json", **params)
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_an_unbalanced_quote_is_a_400_not_a_500(zendesk_server: ZendeskServer) -> None:
    response = get(zendesk_server, "/api/v2/search.json", query='subject:"open')
    assert (response.status_code, response.json()["error"]) == (400, "InvalidValue")
