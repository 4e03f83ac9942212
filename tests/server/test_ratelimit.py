"""Zendesk's rate limits on a real server: fixed windows on the server clock, the recorded 429, the headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.reference import cassette
from zendesk_export.server.edge.ratelimit import (
    INCREMENTAL,
    PLAN,
    SAMPLE,
    USERS_CURSOR,
    buckets_for,
    server_limits,
    window,
)
from zendesk_export.server.store.sqlite import SQLiteStore
from zendesk_export.testing import ZendeskServer

MINUTE = 1_700_000_040  # a whole minute (epoch % 60 == 0)
EXPORT = "/api/v2/incremental/tickets.json"


@pytest.fixture
def limited(zendesk_server: ZendeskServer) -> ZendeskServer:
    """The fixture's server (limits off by default) with Zendesk's limits on for the demo account, clock frozen
    50 seconds into a minute, as in the recorded 429."""
    zendesk_server.admin.set_rate_limit(enabled=True)
    zendesk_server.admin.freeze(MINUTE + 50)
    return zendesk_server


@pytest.fixture
def client(limited: ZendeskServer) -> Iterator[httpx.Client]:
    with limited.client() as http:
        yield http


def export(client: httpx.Client, path: str = EXPORT) -> httpx.Response:
    return client.get(path, params={"start_time": 0})


def recorded_429() -> dict[str, object]:
    exchanges = cassette("UsersIncrementalTest.test_pagination.2023-09-10-with-429")
    response = next(e["response"] for e in exchanges if e["response"]["status"]["code"] == 429)
    return {"body": response["body"], "headers": {k.lower() for k in response["headers"]}}


def test_eleventh_incremental_request_in_a_minute_gets_the_recorded_429(client: httpx.Client) -> None:
    for _ in range(10):
        assert export(client).status_code == 200
    refused = export(client)
    assert refused.status_code == 429
    recorded = recorded_429()
    assert refused.json() == recorded["body"]
    assert refused.content == b'{"error":"APIRateLimitExceeded","description":"Number of allowed incremental ' \
                              b'export API requests per minute exceeded"}'
    assert refused.headers["retry-after"] == "10"  # at :50, like the recording
    assert refused.headers["cache-control"] == "max-age=10, public"
    assert refused.headers["content-type"] == "application/json; charset=utf-8"
    ours = set(refused.headers)
    for name in ("retry-after", "cache-control", "x-rate-limit", "x-rate-limit-remaining", "rate-limit",
                 "rate-limit-remaining", "rate-limit-reset", "content-type", "x-zendesk-api-version", "x-runtime"):
        assert name in recorded["headers"] and name in ours


def test_retry_after_counts_down_to_the_end_of_the_window(limited: ZendeskServer, client: httpx.Client) -> None:
    for _ in range(10):
        export(client)
    seen = []
    for _ in range(4):
        seen.append(export(client).headers["retry-after"])
        limited.admin.advance(3)
    assert seen == ["10", "7", "4", "1"]  # :50, :53, :56, :59


def test_requests_pass_again_once_the_clock_reaches_the_next_window(limited: ZendeskServer,
                                                                     client: httpx.Client) -> None:
    for _ in range(11):
        export(client)
    assert export(client).status_code == 429
    limited.admin.advance(10)
    again = export(client)
    assert again.status_code == 200
    assert again.headers["zendesk-ratelimit-incremental-exports"] == "total=10; remaining=9; resets=60"


def test_headers_count_down_on_every_response(limited: ZendeskServer, client: httpx.Client) -> None:
    incremental, account = [], []
    for path in [EXPORT, "/api/v2/tickets/1.json", EXPORT, "/api/v2/tickets/2.json", EXPORT]:
        response = export(client, path)
        account.append((response.headers["x-rate-limit"], response.headers["x-rate-limit-remaining"],
                        response.headers["ratelimit-limit"], response.headers["ratelimit-remaining"],
                        response.headers["ratelimit-reset"]))
        incremental.append(response.headers.get("zendesk-ratelimit-incremental-exports"))
        limited.admin.advance(1)
    assert account == [("700", str(699 - i), "700", str(699 - i), str(10 - i)) for i in range(5)]
    assert incremental == ["total=10; remaining=9; resets=10", None, "total=10; remaining=8; resets=8", None,
                           "total=10; remaining=7; resets=6"]


def test_high_volume_accounts_get_thirty_incremental_requests(limited: ZendeskServer, client: httpx.Client) -> None:
    limited.admin.set_rate_limit(enabled=True, high_volume=True)
    statuses = [export(client).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]


def test_the_plan_limit_covers_every_api_request(limited: ZendeskServer, client: httpx.Client) -> None:
    limited.admin.set_rate_limit(enabled=True, plan_limit=3)
    statuses = [client.get(f"/api/v2/tickets/{i}.json").status_code for i in range(4)]
    assert statuses == [404, 404, 404, 429]
    refused = client.get("/api/v2/tickets/1.json")
    assert refused.json() == {"error": "APIRateLimitExceeded", "description": PLAN.description}
    assert refused.headers["retry-after"] == "10"


def test_sample_exports_have_ten_requests_per_twenty_minutes(limited: ZendeskServer, client: httpx.Client) -> None:
    limited.admin.freeze(1_699_999_200 + 300)  # 5 minutes into a 20-minute window
    statuses = [export(client, "/api/v2/incremental/tickets/sample.json").status_code for _ in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429
    refused = export(client, "/api/v2/incremental/tickets/sample.json")
    assert refused.headers["retry-after"] == "900"
    assert refused.json()["description"] == SAMPLE.description
    assert export(client).status_code == 200  # the incremental bucket is a different one


def test_concurrent_requests_never_pass_more_than_the_limit(limited: ZendeskServer) -> None:
    barrier = threading.Barrier(30)

    def one(_: int) -> int:
        with limited.client() as http:
            barrier.wait()
            return export(http).status_code

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(one, range(30)))
    assert sorted(statuses) == [200] * 10 + [429] * 20


def test_an_account_with_limits_off_gets_no_rate_limit_headers(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as http:
        responses = [export(http) for _ in range(12)]
    assert {r.status_code for r in responses} == {200}
    assert not any(name.startswith(("x-rate-limit", "ratelimit")) for name in responses[-1].headers)


def test_resetting_the_account_empties_its_counters(limited: ZendeskServer, client: httpx.Client) -> None:
    for _ in range(11):
        export(client)
    limited.admin.reset()
    assert export(client).status_code == 200


@pytest.mark.parametrize("setting, passing", [("on", 10), ("3", 3)])
def test_serve_rate_limit_setting_is_every_accounts_default(tmp_path: Path, setting: str, passing: int) -> None:
    server = ZendeskServer.start(tmp_path / "z.db", rate_limit=setting)
    try:
        server.admin.freeze(MINUTE)
        with server.client() as http:
            statuses = [export(http).status_code for _ in range(passing + 1)]
        assert statuses == [200] * passing + [429]
        server.admin.set_rate_limit(enabled=False)
        with server.client() as http:
            assert export(http).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("settings", [{"incremental": 0}, {"enabled": "yes"}, {"plan_limit": 1.5}, {"burst": 3}])
def test_invalid_rate_limit_settings_get_400(zendesk_server: ZendeskServer, settings: dict[str, object]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        zendesk_server.admin.set_rate_limit(**settings)
    assert refused.value.response.status_code == 400


@pytest.mark.parametrize("path, buckets", [
    ("/api/v2/incremental/tickets.json", (PLAN, INCREMENTAL)),
    ("/api/v2/incremental/tickets/cursor.json", (PLAN, INCREMENTAL)),
    ("/api/v2/incremental/ticket_events", (PLAN, INCREMENTAL)),
    ("/api/v2/incremental/organizations.json", (PLAN, INCREMENTAL)),
    ("/api/v2/incremental/users/cursor.json", (PLAN, USERS_CURSOR)),
    ("/api/v2/incremental/tickets/sample.json", (PLAN, SAMPLE)),
    ("/api/v2/tickets/create_many.json", (PLAN,)),
    ("/__admin/clock", ()),
    ("/api/v3/incremental/tickets", ()),
])
def test_requests_are_classified_into_buckets_by_path(path: str, buckets: tuple[object, ...]) -> None:
    assert buckets_for(path) == buckets


@pytest.mark.parametrize("now, expected", [(MINUTE, (MINUTE, 60)), (MINUTE + 50, (MINUTE, 10)),
                                           (MINUTE + 59.2, (MINUTE, 1)), (MINUTE + 48.5, (MINUTE, 12))])
def test_windows_are_calendar_minutes_and_reset_rounds_up(now: float, expected: tuple[int, int]) -> None:
    assert window(now, 60) == expected


@pytest.mark.parametrize("setting", ["", "fast", "0", "-3"])
def test_server_setting_must_be_on_off_or_a_positive_number(setting: str) -> None:
    with pytest.raises(ValueError):
        server_limits(setting)


def test_store_counts_each_hit_exactly_once_across_threads(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "c.db"))
    counts: list[int] = []
    lock = threading.Lock()

    def hit(_: int) -> None:
        result = store.hit_rate_counters(1, [("plan_limit", MINUTE), ("incremental", MINUTE)])
        with lock:
            counts.append(result["incremental"])
        assert result["plan_limit"] == result["incremental"]  # one statement bumps both: never seen apart

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(hit, range(200)))
    assert sorted(counts) == list(range(1, 201))
    assert store.hit_rate_counters(1, [("incremental", MINUTE + 60)]) == {"incremental": 1}  # a new window


def test_the_users_cursor_export_has_its_own_twenty_a_minute(limited: ZendeskServer, client: httpx.Client) -> None:
    statuses = [export(client, "/api/v2/incremental/users/cursor.json").status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    refused = export(client, "/api/v2/incremental/users/cursor.json")
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert refused.headers["zendesk-ratelimit-incremental-exports-cursor"] == "total=20; remaining=0; resets=10"
    assert export(client).status_code == 200  # the tickets export counts elsewhere


@pytest.mark.parametrize(("high_volume", "plan", "users_cursor"), [(False, "700", "20"), (True, "2500", "60")])
def test_high_volume_raises_the_account_limit_to_2500(limited: ZendeskServer, client: httpx.Client,
                                                      high_volume: bool, plan: str, users_cursor: str) -> None:
    limited.admin.set_rate_limit(enabled=True, high_volume=high_volume)
    first = export(client, "/api/v2/incremental/users/cursor.json")
    assert (first.headers["x-rate-limit"], first.headers["x-rate-limit-remaining"]) == (plan, str(int(plan) - 1))
    assert first.headers["zendesk-ratelimit-incremental-exports-cursor"].startswith(f"total={users_cursor};")


def test_when_the_account_and_the_export_limits_are_both_spent_the_429_names_the_export(
        limited: ZendeskServer, client: httpx.Client) -> None:
    """Both buckets free up at the same minute's end: the 429 names the endpoint's own limit."""
    limited.admin.set_rate_limit(enabled=True, plan_limit=2, incremental=2)
    assert [export(client).status_code for _ in range(2)] == [200, 200]
    refused = export(client)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "10")
    assert refused.json() == {"error": "APIRateLimitExceeded",
                              "description": "Number of allowed incremental export API requests per minute exceeded"}


def test_when_several_limits_are_spent_the_429_names_the_one_that_frees_up_last(
        limited: ZendeskServer, client: httpx.Client) -> None:
    """The account's minute ends in 55 s, the sample exports' 20 minutes in 900 s: waiting for the account's
    limit alone would earn another 429, so the answer names the sample limit and its Retry-After."""
    limited.admin.freeze(1_699_999_200 + 305)  # 5 minutes 5 seconds into a 20-minute window
    limited.admin.set_rate_limit(enabled=True, plan_limit=2, sample=2)
    sample = "/api/v2/incremental/tickets/sample.json"
    assert [export(client, sample).status_code for _ in range(2)] == [200, 200]
    refused = export(client, sample)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "895")
    assert refused.json()["description"] == \
        "Number of allowed incremental sample export API requests per 20 minutes exceeded"
    account_only = client.get("/api/v2/tickets/1.json")
    assert (account_only.status_code, account_only.headers["retry-after"]) == (429, "55")
    assert account_only.json()["description"] == "Number of allowed API requests per minute exceeded"


def test_admin_rate_limits_show_each_buckets_remaining_count_without_counting(limited: ZendeskServer,
                                                                             client: httpx.Client) -> None:
    for _ in range(3):
        export(client)
    expected = [
        {"name": "plan_limit", "window_seconds": 60, "limit": 700, "used": 3, "remaining": 697, "resets_in": 10},
        {"name": "incremental", "window_seconds": 60, "limit": 10, "used": 3, "remaining": 7, "resets_in": 10},
        {"name": "users_cursor", "window_seconds": 60, "limit": 20, "used": 0, "remaining": 20, "resets_in": 10},
        {"name": "sample", "window_seconds": 1200, "limit": 10, "used": 0, "remaining": 10, "resets_in": 310},
    ]
    assert limited.admin.rate_limits()["buckets"] == expected
    assert limited.admin.rate_limits()["buckets"] == expected  # watching is not a request of the account
    limited.admin.advance(10)  # the minute is over: the next request meets full buckets
    assert [b["remaining"] for b in limited.admin.rate_limits()["buckets"]] == [700, 10, 20, 10]
