"""Fault injection against a real HTTP client on a real port: every kind, every trigger, reproducibly."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.test_two_processes import COMMAND, serve_process
from zendesk_export.server.edge.faults import FaultRuleError, load_rules_file, parse_rules
from zendesk_export.testing import ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"
ALL_EXPORTS = {"method": "GET", "path": "/api/v2/incremental/*"}


@pytest.fixture
def server(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=30, random_seed=3)
    return zendesk_server


@pytest.fixture
def client(server: ZendeskServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def export(client: httpx.Client, **params: Any) -> httpx.Response:
    return client.get(EXPORT, params={"start_time": 0, **params})


def fault(action: dict[str, Any], match: dict[str, str] | None = None, **trigger: Any) -> dict[str, Any]:
    return {"match": ALL_EXPORTS if match is None else match, "action": action, **trigger}


def test_status_fault_sends_an_html_503_then_the_api_answers_again(server: ZendeskServer,
                                                                   client: httpx.Client) -> None:
    html = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    server.admin.set_faults([fault({"status": 503, "body": html}, times=1)])
    failed = export(client)
    assert failed.status_code == 503
    assert failed.text == html and failed.headers["content-type"].startswith("text/html")
    assert export(client).status_code == 200


@pytest.mark.parametrize("headers, retry_after", [({"Retry-After": "7"}, "7"), ({}, None)])
def test_status_429_fault_with_and_without_retry_after(server: ZendeskServer, client: httpx.Client,
                                                       headers: dict[str, str], retry_after: str | None) -> None:
    server.admin.set_faults([fault({"status": 429, "headers": headers}, times=1)])
    limited = export(client)
    assert limited.status_code == 429
    assert limited.headers.get("retry-after") == retry_after
    assert limited.json() == {"error": "APIRateLimitExceeded",
                              "description": "Number of allowed incremental export API requests per minute exceeded"}


@pytest.mark.parametrize("status", [500, 502, 504])
def test_status_fault_with_a_zendesk_shaped_json_body(server: ZendeskServer, client: httpx.Client,
                                                      status: int) -> None:
    body = {"error": "InternalError", "description": "Something went wrong"}
    server.admin.set_faults([fault({"status": status, "body": body})])
    response = export(client)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_latency_fault_delays_by_the_fixed_amount_and_journals_it(server: ZendeskServer,
                                                                  client: httpx.Client) -> None:
    server.admin.set_faults([fault({"latency_ms": 30}, times=1)])
    assert export(client).status_code == 200  # delayed, then the real response
    entry = server.admin.requests()[-1]
    assert entry["fault"]["kind"] == "latency" and entry["fault"]["latency_ms"] == 30
    assert entry["duration_ms"] >= 30


def test_random_latency_is_reproducible_from_the_seed(server: ZendeskServer, client: httpx.Client) -> None:
    def run() -> list[float]:
        server.admin.clear_requests()
        server.admin.set_faults([fault({"latency_ms": {"min": 0, "max": 20}}, seed=11)])
        for _ in range(5):
            export(client)
        return [entry["fault"]["latency_ms"] for entry in server.admin.requests()]

    first = run()
    rng = random.Random(11)
    assert first == pytest.approx([rng.uniform(0, 20) for _ in range(5)], abs=1e-3)
    assert run() == first


def test_drop_before_body_closes_the_connection_after_the_headers(server: ZendeskServer,
                                                                  client: httpx.Client) -> None:
    server.admin.set_faults([fault({"drop": "before_body"}, times=1)])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as dropped:
        export(client)
    assert "received 0 bytes" in str(dropped.value)
    assert export(client).status_code == 200  # a new connection, no fault
    assert server.admin.requests()[-2]["fault"]["drop"] == "before_body"


def test_drop_mid_body_sends_half_the_body_then_closes(server: ZendeskServer, client: httpx.Client) -> None:
    full = export(client).content
    server.admin.set_faults([fault({"drop": "mid_body"}, times=1)])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as dropped:
        export(client)
    assert f"received {len(full) // 2} bytes, expected {len(full)}" in str(dropped.value)


def test_truncate_sends_a_complete_response_with_half_the_json(server: ZendeskServer, client: httpx.Client) -> None:
    full = export(client).content
    server.admin.set_faults([fault({"truncate": True}, times=1)])
    truncated = export(client)
    assert truncated.status_code == 200
    assert truncated.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)


def test_malformed_sends_almost_json(server: ZendeskServer, client: httpx.Client) -> None:
    full = export(client).content
    server.admin.set_faults([fault({"malformed": True}, times=1)])
    malformed = export(client)
    assert malformed.status_code == 200 and malformed.content == full[:-1] + b",}"
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)


def test_empty_page_is_a_time_based_page_that_is_not_the_end(server: ZendeskServer, client: httpx.Client) -> None:
    server.admin.set_faults([fault({"empty_page": True}, times=1)])
    page = export(client, start_time=1234, per_page=5).json()
    assert page == {"tickets": [], "count": 0, "end_of_stream": False, "end_time": 1234,
                    "next_page": f"{server.url}{EXPORT}?start_time=1234&per_page=5"}
    again = client.get(page["next_page"]).json()
    assert again["count"] == 5  # the same request again, now answered


def test_empty_page_on_a_cursor_export_keeps_the_cursor(server: ZendeskServer, client: httpx.Client) -> None:
    server.admin.set_faults([fault({"empty_page": True})])
    page = client.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": "abc"}).json()
    assert page == {"tickets": [], "after_cursor": "abc", "before_cursor": None, "before_url": None,
                    "end_of_stream": False,
                    "after_url": f"{server.url}/api/v2/incremental/tickets/cursor.json?cursor=abc"}


def statuses(client: httpx.Client, count: int) -> list[int]:
    return [export(client).status_code for _ in range(count)]


def test_every_nth_matching_request_fails(server: ZendeskServer, client: httpx.Client) -> None:
    server.admin.set_faults([fault({"status": 503}, every=3)])
    assert statuses(client, 7) == [200, 200, 503, 200, 200, 503, 200]


def test_every_and_times_combine_into_the_third_page_only(server: ZendeskServer, client: httpx.Client) -> None:
    server.admin.set_faults([fault({"status": 503}, every=3, times=1)])
    assert statuses(client, 7) == [200, 200, 503, 200, 200, 200, 200]
    state = server.admin.faults()[0]
    assert (state["seen"], state["fired"]) == (3, 1)  # a spent rule stops counting


def test_probability_is_reproducible_from_the_seed(server: ZendeskServer, client: httpx.Client) -> None:
    rule = fault({"status": 502}, probability=0.5, seed=42)
    server.admin.set_faults([rule])
    first = statuses(client, 20)
    rng = random.Random(42)
    assert first == [502 if rng.random() < 0.5 else 200 for _ in range(20)]
    assert 200 in first and 502 in first
    server.admin.set_faults([rule])
    assert statuses(client, 20) == first


def test_first_rule_that_fires_wins(server: ZendeskServer, client: httpx.Client) -> None:
    server.admin.set_faults([fault({"status": 502}, times=1), fault({"status": 504}, times=1)])
    assert statuses(client, 3) == [502, 504, 200]


@pytest.mark.parametrize("match, hits", [
    ({"method": "POST"}, False),
    ({"method": "get", "path": "/api/v2/incremental/tickets"}, True),  # the .json suffix is optional
    ({"path": "/api/v2/tickets/*"}, False),
    ({"account": "example"}, True),
    ({"account": "other"}, False),
])
def test_rules_match_method_path_and_account(server: ZendeskServer, client: httpx.Client,
                                             match: dict[str, str], hits: bool) -> None:
    server.admin.set_faults([fault({"status": 503}, match)])
    assert export(client).status_code == (503 if hits else 200)


def test_faults_act_before_authentication_and_rate_limits(server: ZendeskServer) -> None:
    server.admin.set_rate_limit(enabled=True, incremental=1)
    server.admin.freeze()
    server.admin.set_faults([fault({"status": 503}, times=3)])
    anonymous = [httpx.get(server.url + EXPORT, params={"start_time": 0}).status_code for _ in range(3)]
    assert anonymous == [503, 503, 503]
    with server.client() as http:
        assert statuses(http, 2) == [200, 429]  # the faulted requests were not counted


def test_the_admin_api_is_never_faulted(server: ZendeskServer) -> None:
    server.admin.set_faults([fault({"status": 500}, {"path": "*"})])
    assert server.admin.clock()["frozen"] is False
    server.admin.clear_faults()
    assert server.admin.faults() == []


@pytest.mark.parametrize("rules", [
    {"match": {}, "action": {"status": 503}},  # not a list
    [{"action": {"status": 99}}],
    [{"action": {"drop": "sideways"}}],
    [{"action": {"status": 503, "truncate": True}}],
    [{"action": {"latency_ms": -5}}],
    [{"action": {"latency_ms": {"min": 9, "max": 1}}}],
    [{"action": {}}],
    [{"action": {"truncate": True}, "times": 0}],
    [{"action": {"truncate": True}, "probability": 1.5}],
    [{"action": {"body": "x"}}],
    [{"match": {"host": "x"}, "action": {"truncate": True}}],
    [{"action": {"truncate": True}, "when": "always"}],
])
def test_invalid_rules_are_refused_with_400(server: ZendeskServer, rules: Any) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        server.admin.set_faults(rules)
    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["error"] == "InvalidValue"
    with pytest.raises(FaultRuleError):
        parse_rules(rules)


def test_rules_file_is_read_and_validated(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"rules": [fault({"status": 503}, times=2)]}))
    bad.write_text("[{")
    assert load_rules_file(good) == [fault({"status": 503}, times=2)]
    with pytest.raises(FaultRuleError):
        load_rules_file(bad)


def test_rules_given_at_start_are_active_at_once(tmp_path: Path) -> None:
    started = ZendeskServer.start(tmp_path / "f.db", faults=[fault({"status": 502}, times=1)])
    try:
        with started.client() as http:
            assert statuses(http, 2) == [502, 200]
    finally:
        started.stop()


def test_serve_faults_flag_loads_rules_from_a_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([fault({"status": 503, "body": "<h1>down</h1>"}, every=2)]))
    with serve_process(tmp_path / "s.db", "--faults", str(rules)) as url, \
            httpx.Client(base_url=url, auth=("admin@example.com/token", "demo-token")) as http:
        assert statuses(http, 4) == [200, 503, 200, 503]


@pytest.mark.parametrize("option, value, message", [
    ("--faults", "rules.json", "rule 0.action: an action is a non-empty object"),
    ("--faults", "missing.json", "cannot read fault rules"),
    ("--rate-limit", "sometimes", "--rate-limit: expected on, off or a positive number"),
])
def test_serve_refuses_bad_fault_rules_or_rate_limit_without_a_traceback(tmp_path: Path, option: str, value: str,
                                                                         message: str) -> None:
    (tmp_path / "rules.json").write_text('[{"action": {}}]')
    result = subprocess.run([*COMMAND, "--db", str(tmp_path / "s.db"), option, value],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_third_page_fails_with_503_then_the_server_rate_limits_for_seven_seconds(server: ZendeskServer,
                                                                                 client: httpx.Client) -> None:
    """A fault, the real limiter on the frozen clock and the journal working together, in a few lines."""
    server.admin.reset()
    server.admin.freeze(1_700_000_040 + 53)  # 7 seconds before the minute ends
    server.admin.seed(tickets=30, random_seed=3)
    server.admin.set_rate_limit(enabled=True, incremental=2)
    server.admin.set_faults([fault({"status": 503}, every=3, times=1)])
    url = f"{EXPORT}?start_time=0&per_page=10"
    seen = []
    for _ in range(5):
        response = client.get(url)
        seen.append((response.status_code, response.headers.get("retry-after")))
        if response.status_code == 429:
            server.admin.advance(int(response.headers["retry-after"]))
        elif response.status_code == 200:
            url = response.json()["next_page"]
    assert seen == [(200, None), (200, None), (503, None), (429, "7"), (200, None)]
    assert [e["status"] for e in server.admin.requests()] == [s for s, _ in seen]
