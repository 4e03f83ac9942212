"""Both paginations of the list endpoints, end to end on a real server: offset (`page`/`per_page`, `next_page`,
`count`) and cursor (`page[size]`/`page[after]`/`page[before]`, `meta`, `links`), Zendesk's limits and errors."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from zendesk_export.testing import ZendeskServer


def get(server: ZendeskServer, path: str, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params)


def follow(server: ZendeskServer, url: str) -> dict[str, Any]:
    with server.client() as client:
        response = client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def add_groups(server: ZendeskServer, count: int) -> list[int]:
    with server.client() as client:
        return [client.post("/api/v2/groups.json", json={"group": {"name": f"G{i}"}}).json()["group"]["id"]
                for i in range(count)]


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_cursor_pages_walk_every_group_once_in_id_order(zendesk_server: ZendeskServer, size: int) -> None:
    ids = add_groups(zendesk_server, 5)
    body = get(zendesk_server, "/api/v2/groups.json", **{"page[size]": size}).json()
    seen = [g["id"] for g in body["groups"]]
    while body["meta"]["has_more"]:
        body = follow(zendesk_server, body["links"]["next"])
        seen += [g["id"] for g in body["groups"]]
    assert seen == ids


def test_cursor_page_envelope_has_zendesks_keys_and_links(zendesk_server: ZendeskServer) -> None:
    add_groups(zendesk_server, 3)
    body = get(zendesk_server, "/api/v2/groups.json", **{"page[size]": 1}).json()
    assert list(body) == ["groups", "meta", "links"]
    assert list(body["meta"]) == ["has_more", "after_cursor", "before_cursor"]
    assert list(body["links"]) == ["prev", "next"]
    assert body["meta"]["has_more"] is True
    # with one item per page the two cursors are the same (recorded)
    assert body["meta"]["after_cursor"] == body["meta"]["before_cursor"]
    next_url = urlsplit(body["links"]["next"])
    assert next_url.path == "/api/v2/groups.json"
    assert next_url.query == f"page%5Bafter%5D={body['meta']['after_cursor'].replace('=', '%3D')}&page%5Bsize%5D=1"
    token = json.loads(base64.b64decode(body["meta"]["after_cursor"]))
    assert token["o"] == "id"


def test_last_page_keeps_its_cursors_and_past_the_end_is_empty(zendesk_server: ZendeskServer) -> None:
    add_groups(zendesk_server, 2)
    last = get(zendesk_server, "/api/v2/groups.json", **{"page[size]": 100}).json()
    assert last["meta"]["has_more"] is False
    assert last["meta"]["after_cursor"] and last["links"]["next"] and last["links"]["prev"]
    past = follow(zendesk_server, last["links"]["next"])
    assert past == {"groups": [], "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                    "links": {"prev": None, "next": None}}


def test_before_cursor_goes_back_one_page(zendesk_server: ZendeskServer) -> None:
    ids = add_groups(zendesk_server, 4)
    first = get(zendesk_server, "/api/v2/groups.json", **{"page[size]": 2}).json()
    second = follow(zendesk_server, first["links"]["next"])
    assert [g["id"] for g in second["groups"]] == ids[2:]
    back = follow(zendesk_server, second["links"]["prev"])
    assert [g["id"] for g in back["groups"]] == ids[:2]


@pytest.mark.parametrize(("params", "description"), [
    ({"page[size]": "101"}, "page[size] cannot be greater than 100"),
    ({"page[size]": "abc"}, "page[size] is not valid"),
    ({"page[after]": "not-a-cursor"}, "page[after] is not valid"),
    ({"page[before]": "eyJvIjoiaWQifQ=="}, "page[before] is not valid"),
])
def test_bad_page_parameters_answer_zendesks_400(zendesk_server: ZendeskServer, params: dict[str, str],
                                                  description: str) -> None:
    response = get(zendesk_server, "/api/v2/users.json", **params)
    assert response.status_code == 400
    assert response.json() == {"error": "InvalidPaginationParameter", "description": description}


def test_a_cursor_of_another_order_is_refused(zendesk_server: ZendeskServer) -> None:
    foreign = base64.b64encode(json.dumps({"o": "name,id", "v": "aQEAAAAAAAAA"}).encode()).decode()
    response = get(zendesk_server, "/api/v2/groups.json", **{"page[after]": foreign})
    assert response.json() == {"error": "InvalidPaginationParameter", "description": "page[after] is not valid"}


def test_offset_pages_count_and_link_on_the_json_path(zendesk_server: ZendeskServer) -> None:
    ids = add_groups(zendesk_server, 5)
    body = get(zendesk_server, "/api/v2/groups", per_page=2, page=2).json()
    assert list(body) == ["groups", "next_page", "previous_page", "count"]
    assert [g["id"] for g in body["groups"]] == ids[2:4]
    assert body["count"] == 5
    assert body["next_page"].endswith("/api/v2/groups.json?page=3&per_page=2")
    assert body["previous_page"].endswith("/api/v2/groups.json?page=1&per_page=2")
    last = follow(zendesk_server, body["next_page"])
    assert ([g["id"] for g in last["groups"]], last["next_page"]) == (ids[4:], None)


def test_bare_list_is_offset_with_a_hundred_per_page(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=2000, random_seed=7)
    body = get(zendesk_server, "/api/v2/users.json").json()
    assert len(body["users"]) == 100
    assert body["count"] > 100
    assert parse_qs(urlsplit(body["next_page"]).query) == {"page": ["2"]}


@pytest.mark.parametrize("table", ["users", "organizations", "groups"])
def test_people_lists_answer_cursor_paging(zendesk_server: ZendeskServer, table: str) -> None:
    """A connector paging /users, /groups, /organizations the modern way finds `meta` and every record once."""
    zendesk_server.admin.seed(tickets=300, random_seed=3)
    offset = get(zendesk_server, f"/api/v2/{table}.json", per_page=100).json()
    expected = offset["count"]
    body = get(zendesk_server, f"/api/v2/{table}.json", **{"page[size]": 7}).json()
    seen = [r["id"] for r in body[table]]
    while body["meta"]["has_more"]:
        body = follow(zendesk_server, body["links"]["next"])
        seen += [r["id"] for r in body[table]]
    assert len(seen) == len(set(seen)) == expected


@pytest.mark.parametrize("paging", [{}, {"page[size]": 3}])
def test_memberships_sideload_the_users_and_groups_of_their_page(zendesk_server: ZendeskServer,
                                                                 paging: dict[str, Any]) -> None:
    zendesk_server.admin.seed(tickets=100, random_seed=9)
    body = get(zendesk_server, "/api/v2/group_memberships.json", include="users,groups,tickets", **paging).json()
    assert list(body)[:3] == ["group_memberships", "users", "groups"]
    assert "tickets" not in body  # not a sideload of memberships: ignored
    page = body["group_memberships"]
    assert sorted(u["id"] for u in body["users"]) == sorted({m["user_id"] for m in page})
    assert sorted(g["id"] for g in body["groups"]) == sorted({m["group_id"] for m in page})
    assert all(u["role"] == "agent" for u in body["users"])


def test_a_membership_shows_with_its_organization(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=100, random_seed=9)
    body = get(zendesk_server, "/api/v2/organization_memberships/1.json", include="organizations").json()
    membership = body["organization_membership"]
    assert [o["id"] for o in body["organizations"]] == [membership["organization_id"]]
    assert membership["organization_name"] == body["organizations"][0]["name"]
