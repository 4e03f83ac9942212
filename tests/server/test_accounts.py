"""Accounts as isolated units on one real server: created, listed and deleted through the admin API, reached
through their Host header or their ``/__account/NAME`` base path, and never seeing each other's tickets, users,
jobs, cursors, rate-limit buckets, faults, clock or journal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from zendesk_export.testing import ZendeskAccount, ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"
CURSOR_EXPORT = "/api/v2/incremental/tickets/cursor.json"
T0 = 1_700_000_080  # 20 s before a minute ends


@pytest.fixture
def admin_http(zendesk_server: ZendeskServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {zendesk_server.admin.token}"}
    with httpx.Client(base_url=zendesk_server.url, headers=headers, timeout=30) as http:
        yield http


@pytest.fixture
def two(zendesk_server: ZendeskServer) -> Iterator[tuple[ZendeskAccount, ZendeskAccount]]:
    """Two fresh accounts on the session's server, deleted afterwards."""
    first, second = ZendeskAccount.create(zendesk_server), ZendeskAccount.create(zendesk_server)
    try:
        yield first, second
    finally:
        first.delete()
        second.delete()


def new_ticket(account: ZendeskAccount, subject: str = "hello") -> dict[str, object]:
    with account.client() as client:
        response = client.post("/api/v2/tickets.json", json={"ticket": {"subject": subject,
                                                                        "comment": {"body": "x"}}})
    assert response.status_code == 201
    ticket: dict[str, object] = response.json()["ticket"]
    return ticket


# -- the admin API of accounts --------------------------------------------------------------------------------

def test_an_account_is_created_listed_and_deleted(zendesk_server: ZendeskServer, admin_http: httpx.Client) -> None:
    created = admin_http.post("/__admin/accounts", json={"name": "bee", "admin": {
        "email": "queen@bee.test", "token": "bee-token-123456", "password": "bee-password"}})
    try:
        assert created.status_code == 201
        account = created.json()["account"]
        assert (account["name"], account["default"], account["tickets"], account["api_path"]) == \
               ("bee", False, 0, "/__account/bee")
        listed = admin_http.get("/__admin/accounts").json()["accounts"]
        assert [a["name"] for a in listed][:1] == ["example"] and listed[0]["default"] is True
        assert "bee" in [a["name"] for a in listed]
        with httpx.Client(base_url=zendesk_server.url, auth=("queen@bee.test", "bee-password")) as client:
            assert client.get("/__account/bee/api/v2/users/me.json").json()["user"]["email"] == "queen@bee.test"
    finally:
        deleted = admin_http.delete("/__admin/accounts/bee")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "bee"}
    assert "bee" not in [a["name"] for a in admin_http.get("/__admin/accounts").json()["accounts"]]
    gone = httpx.get(zendesk_server.url + "/__account/bee/api/v2/users/me.json",
                     auth=("queen@bee.test", "bee-password"))
    assert gone.status_code == 404 and gone.json()["error"]["title"] == "No help desk at bee.zendesk.com"


def test_a_taken_name_gets_409(zendesk_server: ZendeskServer, admin_http: httpx.Client) -> None:
    body = {"name": "example", "admin": {"email": "x@example.com", "token": "another-token-1234"}}
    response = admin_http.post("/__admin/accounts", json=body)
    assert response.status_code == 409
    assert response.json() == {"error": "DuplicateAccount", "description": "An account named 'example' already exists"}


@pytest.mark.parametrize("body", [
    {"name": "bad name", "admin": {"email": "a@b.c", "token": "t"}},
    {"name": "-leading", "admin": {"email": "a@b.c", "token": "t"}},
    {"name": "dotted.name", "admin": {"email": "a@b.c", "token": "t"}},
    {"name": "x" * 64, "admin": {"email": "a@b.c", "token": "t"}},
    {"name": 7, "admin": {"email": "a@b.c", "token": "t"}},
    {"name": "fine"},
    {"name": "fine", "admin": {"email": "a@b.c"}},
    {"name": "fine", "admin": {"email": "not-an-email", "token": "t"}},
    {"name": "fine", "admin": {"email": "a@b.c", "token": ""}},
    {"name": "fine", "admin": {"email": "a@b.c", "token": 5}},
    {"name": "fine", "admin": {"email": "a@b.c", "token": "t", "role": "owner"}},
    {"name": "fine", "admin": {"email": "a@b.c", "token": "t"}, "plan": "enterprise"},
], ids=lambda body: str(body)[:60])
def test_a_bad_account_body_gets_400(admin_http: httpx.Client, body: dict[str, object]) -> None:
    response = admin_http.post("/__admin/accounts", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidValue"
    assert "fine" not in [a["name"] for a in admin_http.get("/__admin/accounts").json()["accounts"]]


def test_a_body_that_is_not_json_gets_400(admin_http: httpx.Client) -> None:
    response = admin_http.post("/__admin/accounts", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_the_default_account_cannot_be_deleted(admin_http: httpx.Client) -> None:
    response = admin_http.delete("/__admin/accounts/example")
    assert response.status_code == 400
    assert response.json()["description"] == "the default account cannot be deleted"


def test_deleting_an_unknown_account_gets_404(admin_http: httpx.Client) -> None:
    assert admin_http.delete("/__admin/accounts/nosuch").status_code == 404


def test_a_deleted_account_takes_its_data_and_its_name_can_be_used_again(zendesk_server: ZendeskServer) -> None:
    first = ZendeskAccount.create(zendesk_server, "again")
    first.admin.seed(tickets=5)
    old_id = next(a["id"] for a in zendesk_server.admin.accounts() if a["name"] == "again")
    first.delete()
    second = ZendeskAccount.create(zendesk_server, "again")
    try:
        listed = next(a for a in zendesk_server.admin.accounts() if a["name"] == "again")
        assert listed["tickets"] == 0 and listed["id"] > old_id
        with second.client() as client:
            assert client.get(EXPORT, params={"start_time": 0}).json()["tickets"] == []
        with httpx.Client(base_url=second.url, auth=first.auth) as client:
            assert client.get("/api/v2/users/me.json").status_code == 401
    finally:
        second.delete()


# -- reaching an account ----------------------------------------------------------------------------------------

def test_the_host_header_and_the_base_path_reach_the_same_account(zendesk_server: ZendeskServer,
                                                                   zendesk_account: ZendeskAccount) -> None:
    ticket = new_ticket(zendesk_account, "reached twice")
    with httpx.Client(auth=zendesk_account.auth) as client:
        by_path = client.get(f"{zendesk_account.url}/api/v2/tickets/{ticket['id']}.json")
        by_host = client.get(f"{zendesk_server.url}/api/v2/tickets/{ticket['id']}.json",
                             headers={"Host": f"{zendesk_account.name}.localhost"})
    assert by_path.json()["ticket"]["subject"] == by_host.json()["ticket"]["subject"] == "reached twice"


def test_urls_in_pages_keep_the_accounts_base_path(zendesk_account: ZendeskAccount) -> None:
    zendesk_account.admin.seed(tickets=3)
    zendesk_account.admin.advance(61)
    with zendesk_account.client() as client:
        page = client.get(CURSOR_EXPORT, params={"start_time": 0, "per_page": 2}).json()
        following = client.get(page["after_url"])
    assert page["after_url"].startswith(zendesk_account.url + "/api/v2/incremental/tickets/cursor.json?")
    assert page["tickets"][0]["url"].startswith(zendesk_account.url + "/api/v2/tickets/")
    assert following.status_code == 200 and len(following.json()["tickets"]) == 1


def test_the_zendesk_account_fixture_hands_out_an_empty_account_of_its_own(zendesk_server: ZendeskServer,
                                                                         zendesk_account: ZendeskAccount) -> None:
    assert zendesk_account.name != "example"
    assert zendesk_account.admin.clock()["frozen"] is False
    with zendesk_account.client() as client:
        assert client.get(EXPORT, params={"start_time": 0}).json()["tickets"] == []
        assert client.get("/api/v2/users/me.json").json()["user"]["email"] == zendesk_account.email


# -- isolation, one respect per test ----------------------------------------------------------------------------

def test_tickets_stay_in_their_account(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    ticket = new_ticket(first)
    for account in two:
        account.admin.advance(61)
    with second.client() as client:
        assert client.get(f"/api/v2/tickets/{ticket['id']}.json").status_code == 404
        assert client.get(EXPORT, params={"start_time": 0}).json()["count"] == 0
    with first.client() as client:
        assert client.get(EXPORT, params={"start_time": 0}).json()["count"] == 1


def test_users_stay_in_their_account(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    with first.client() as client:
        client.post("/api/v2/users.json", json={"user": {"name": "Only First", "email": "only@first.test"}})
    with second.client() as client:
        emails = [u["email"] for u in client.get("/api/v2/users.json").json()["users"]]
        assert emails == [second.email]
        assert client.get("/api/v2/users/1.json").json()["user"]["email"] == second.email
    with httpx.Client(base_url=second.url, auth=first.auth) as client:
        assert client.get("/api/v2/users/me.json").status_code == 401


def test_jobs_stay_in_their_account(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    with first.client() as client:
        job = client.post("/api/v2/tickets/create_many.json",
                          json={"tickets": [{"comment": {"body": "a"}}]}).json()["job_status"]
        assert client.get(f"/api/v2/job_statuses/{job['id']}.json").status_code == 200
    with second.client() as client:
        assert client.get(f"/api/v2/job_statuses/{job['id']}.json").status_code == 404


def test_a_cursor_is_good_on_its_own_account_only(zendesk_server: ZendeskServer,
                                                  two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    for account in two:
        account.admin.seed(tickets=3)
        account.admin.advance(61)
    with first.client() as client:
        cursor = client.get(CURSOR_EXPORT, params={"start_time": 0, "per_page": 1}).json()["after_cursor"]
        assert client.get(CURSOR_EXPORT, params={"cursor": cursor}).status_code == 200
    with second.client() as client:
        refused = client.get(CURSOR_EXPORT, params={"cursor": cursor})
    assert refused.status_code == 400
    assert refused.json() == {"error": "InvalidPaginationParameter", "description": f"Invalid cursor: {cursor!r}"}
    zendesk_server.admin.seed(tickets=2)
    zendesk_server.admin.advance(61)
    with zendesk_server.client() as client:
        default_cursor = client.get(CURSOR_EXPORT, params={"start_time": 0, "per_page": 1}).json()["after_cursor"]
        assert client.get(CURSOR_EXPORT, params={"cursor": cursor}).status_code == 400
    with first.client() as client:
        assert client.get(CURSOR_EXPORT, params={"cursor": default_cursor}).status_code == 400


def test_rate_limit_buckets_are_counted_per_account(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    for account in two:
        account.admin.set_rate_limit(enabled=True, incremental=2)
        account.admin.freeze(T0)
    with first.client() as client:
        spent = [client.get(EXPORT, params={"start_time": 0}).status_code for _ in range(3)]
    with second.client() as client:
        fresh = client.get(EXPORT, params={"start_time": 0})
    assert spent == [200, 200, 429]
    assert fresh.status_code == 200
    assert fresh.headers["zendesk-ratelimit-incremental-exports"] == "total=2; remaining=1; resets=20"


def test_faults_act_on_their_account_only(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    first.admin.set_faults([{"match": {"path": "/api/v2/*"}, "action": {"status": 503}}])
    with second.client() as client:
        assert client.get("/api/v2/users/me.json").status_code == 200
    with first.client() as client:
        assert client.get("/api/v2/users/me.json").status_code == 503
    assert second.admin.faults() == []
    assert [(r["seen"], r["fired"]) for r in first.admin.faults()] == [(1, 1)]


def test_the_clock_is_each_accounts_own(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    assert first.admin.freeze(1_600_000_000) == {"now": 1_600_000_000, "frozen": True}
    assert second.admin.clock()["frozen"] is False and second.admin.clock()["now"] > 1_700_000_000
    assert new_ticket(first)["created_at"] == "2020-09-13T12:26:40Z"
    assert new_ticket(second)["created_at"] != "2020-09-13T12:26:40Z"
    with first.client() as client:
        assert client.get("/api/v2/users/me.json").headers["date"] == "Sun, 13 Sep 2020 12:26:40 GMT"


def test_the_journal_is_each_accounts_own(zendesk_server: ZendeskServer,
                                          two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    with first.client() as client:
        client.get("/api/v2/users/me.json")
    assert [(r["method"], r["path"], r["status"]) for r in first.admin.requests()] == \
           [("GET", "/api/v2/users/me.json", 200)]
    assert second.admin.requests() == []
    assert zendesk_server.admin.requests() == []


def test_requests_for_an_unknown_account_are_in_no_journal(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + "/__account/nosuch/api/v2/users/me.json", auth=zendesk_server.auth)
    assert response.status_code == 404 and response.json()["error"]["title"] == "No help desk at nosuch.zendesk.com"
    assert zendesk_server.admin.requests() == []


@pytest.mark.parametrize("call", [("GET", "clock"), ("GET", "faults"), ("GET", "requests"), ("POST", "reset"),
                                  ("GET", "rate_limits")])
def test_admin_calls_for_an_unknown_account_get_404(admin_http: httpx.Client, call: tuple[str, str]) -> None:
    method, path = call
    assert admin_http.request(method, f"/__admin/{path}", params={"account": "nosuch"}).status_code == 404


def test_reset_and_seed_touch_their_account_only(two: tuple[ZendeskAccount, ZendeskAccount]) -> None:
    first, second = two
    first.admin.seed(tickets=4)
    second.admin.seed(tickets=2)
    second.admin.reset()
    counts = {a["name"]: a["tickets"] for a in first.server_admin.accounts()}
    assert (counts[first.name], counts[second.name]) == (4, 0)


@pytest.mark.parametrize("body", [{"freeze_at": 1e18}, {"freeze_at": -1}, {"advance": 1e13}, {"advance": -1e10},
                                  {"freeze_at": 1_600_000_000, "advance": -2e9}])
def test_a_clock_beyond_what_timestamps_can_spell_is_refused(zendesk_account: ZendeskAccount,
                                                            body: dict[str, float]) -> None:
    """400 and the clock as it was (it used to be stored, and then every request answered 500)."""
    before = zendesk_account.admin.freeze(1_700_000_000)
    response = httpx.post(f"{zendesk_account.admin.url}/__admin/clock", params={"account": zendesk_account.name},
                          json=body, headers={"Authorization": f"Bearer {zendesk_account.admin.token}"})
    assert response.status_code == 400 and response.json()["error"] == "InvalidValue"
    assert zendesk_account.admin.clock() == before
    with zendesk_account.client() as client:
        assert client.get("/api/v2/users/me.json").status_code == 200


def test_rules_given_at_start_go_to_every_account_each_with_its_own_counters(tmp_path: Path) -> None:
    rules = [{"match": {"path": "/api/v2/users/me"}, "action": {"status": 503}, "times": 1},
             {"match": {"path": "/api/v2/users/me", "account": "bee"}, "action": {"status": 502}, "times": 1}]
    server = ZendeskServer.start(tmp_path / "faulted.db", faults=rules)
    bee = ZendeskAccount.create(server, "bee")
    wasp = ZendeskAccount.create(server, "wasp")
    try:
        statuses = {}
        for account in (bee, wasp):
            with account.client() as client:
                statuses[account.name] = [client.get("/api/v2/users/me.json").status_code for _ in range(3)]
        with server.client() as client:
            statuses["example"] = [client.get("/api/v2/users/me.json").status_code for _ in range(2)]
    finally:
        bee.delete()
        wasp.delete()
        server.stop()
    assert statuses == {"bee": [503, 502, 200], "wasp": [503, 200, 200], "example": [503, 200]}


def test_a_new_accounts_admin_was_created_when_the_account_was(zendesk_account: ZendeskAccount) -> None:
    with zendesk_account.client() as client:
        me = client.get("/api/v2/users/me.json").json()["user"]
    assert me["role"] == "admin" and not me["created_at"].startswith("1970")  # it was the epoch


def test_an_injected_empty_page_points_back_into_its_account(zendesk_account: ZendeskAccount) -> None:
    zendesk_account.admin.set_faults([{"match": {"path": "/api/v2/incremental/*"}, "action": {"empty_page": True},
                                       "times": 1}])
    with zendesk_account.client() as client:
        page = client.get(EXPORT, params={"start_time": 0}).json()
    assert page["end_of_stream"] is False
    assert page["next_page"] == f"{zendesk_account.url}{EXPORT}?start_time=0"


SUITE_ON_A_SHARED_SERVER = '''
def test_one(zendesk_account):
    zendesk_account.admin.seed(tickets=3)
    assert {a["name"]: a["tickets"] for a in zendesk_account.server_admin.accounts()}[zendesk_account.name] == 3
    print("ACCOUNT", zendesk_account.url)


def test_two(zendesk_account):
    assert zendesk_account.admin.clock()["frozen"] is False
    print("ACCOUNT", zendesk_account.url)
'''


@pytest.mark.slow
def test_a_suite_can_run_its_zendesk_accounts_on_a_shared_server(zendesk_server: ZendeskServer,
                                                                 tmp_path: Path) -> None:
    """``ZENDESK_EXPORT_TEST_SERVER`` and ``ZENDESK_EXPORT_ADMIN_TOKEN``: another suite's tests each get an account
    on this (already running) server, deleted when they end."""
    import os
    import subprocess
    import sys

    (tmp_path / "test_shared.py").write_text(SUITE_ON_A_SHARED_SERVER)
    env = {**os.environ, "ZENDESK_EXPORT_TEST_SERVER": zendesk_server.url,
           "ZENDESK_EXPORT_ADMIN_TOKEN": zendesk_server.admin.token}
    before = {a["name"] for a in zendesk_server.admin.accounts()}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    used = re.findall(r"ACCOUNT (\S+)", result.stdout)
    assert len(used) == 2 and len(set(used)) == 2
    assert all(url.startswith(zendesk_server.url + "/__account/t") for url in used)
    assert {a["name"] for a in zendesk_server.admin.accounts()} == before


def test_a_shared_server_needs_its_admin_token() -> None:
    from zendesk_export.testing import shared_server_admin

    assert shared_server_admin({}) is None
    with pytest.raises(pytest.UsageError, match="ZENDESK_EXPORT_ADMIN_TOKEN"):
        shared_server_admin({"ZENDESK_EXPORT_TEST_SERVER": "http://127.0.0.1:9"})


@pytest.mark.parametrize("path", ["/__account/example/__admin/reset", "/__account/example/__admin/accounts",
                                  "/__account/example//__admin/reset", "/__account/example/__account/x/api/v2/x"])
def test_the_base_path_never_reaches_the_admin_api(zendesk_server: ZendeskServer, path: str) -> None:
    """The admin guard looks at the path as sent: a base path must not turn into an admin path behind it."""
    zendesk_server.admin.seed(tickets=2)
    response = httpx.post(zendesk_server.url + path, json={"name": "sneaky", "admin": {"email": "a@b.c",
                                                                                      "token": "t"}})
    assert response.status_code == 404 and response.json()["error"] == "InvalidEndpoint"
    tickets = {a["name"]: a["tickets"] for a in zendesk_server.admin.accounts()}  # other tests' accounts too
    assert "sneaky" not in tickets and tickets["example"] == 2  # nothing created, nothing reset
