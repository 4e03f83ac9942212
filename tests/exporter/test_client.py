"""The HTTP client: auth, retries, Retry-After, pacing from rate-limit headers, and one-line errors."""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tests.reference import load_reference
from zendesk_export.exporter import (
    AccountNotFound,
    ApiError,
    AuthenticationFailed,
    ExportConfig,
    GaveUp,
    PermissionDenied,
    TooRecentStartTime,
    Unreachable,
    ZendeskClient,
)
from zendesk_export.exporter.client import FIRST_CONTACT_WINDOW, PACING_MARGIN

PAGE = {"tickets": [], "count": 0, "end_of_stream": True, "next_page": None, "end_time": None}
PATH = "/api/v2/incremental/tickets.json"
SERVER_NOW = datetime(2024, 2, 8, 17, 26, 50, tzinfo=UTC)  # :50 → 10 s to the next minute
DATE = format_datetime(SERVER_NOW, usegmt=True)


class Script:
    """A MockTransport handler answering from a list (the last answer repeats), recording requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(**headers: str) -> httpx.Response:
    return httpx.Response(200, json=PAGE, headers={"date": DATE, **headers})


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"date": DATE, **headers})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., tuple[ZendeskClient, Script]]]:
    clients: list[ZendeskClient] = []

    def make(*answers: httpx.Response | Exception, **config: Any) -> tuple[ZendeskClient, Script]:
        script = Script(*answers)
        config = {"url": "https://acme.zendesk.com", "email": "admin@acme.com", "token": "secret", **config}
        client = ZendeskClient(ExportConfig(**config), sleep=sleeps.append,
                               transport=httpx.MockTransport(script))
        clients.append(client)
        return client, script

    yield make
    for client in clients:
        client.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("credentials", "expected"), [
    ({"email": "a@b.c", "token": "T"}, basic("a@b.c/token", "T")),
    ({"email": "a@b.c", "password": "P", "token": None}, basic("a@b.c", "P")),
    ({"oauth_token": "O", "email": None, "token": None}, "Bearer O"),
])
def test_each_credential_kind_sends_zendesk_authorization(make_client, credentials, expected):
    client, script = make_client(ok(), **credentials)
    client.get(PATH, {"start_time": 0})
    assert script.requests[0].headers["authorization"] == expected


def test_requests_carry_a_timeout_and_an_optional_host_header(make_client):
    client, script = make_client(ok(), url="http://127.0.0.1:9", host_header="nosuch.localhost", timeout=7)
    client.get(PATH, {"start_time": 0})
    request = script.requests[0]
    assert request.headers["host"] == "nosuch.localhost"
    assert request.extensions["timeout"]["read"] == 7
    assert str(request.url) == "http://127.0.0.1:9/api/v2/incremental/tickets.json?start_time=0"


@pytest.mark.parametrize("failure", [
    answer(500, {"error": "InternalError"}),
    answer(503, b"<html>Service Unavailable</html>"),
    answer(200, b'{"tickets": [{"id": 1, "subj'),
    answer(200, b"[]"),
    httpx.ConnectError("Connection refused"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.ReadTimeout("timed out"),
], ids=["500", "503-html", "truncated-json", "json-not-object", "refused", "dropped", "timeout"])
def test_transient_failures_are_retried_after_a_backoff(make_client, sleeps, failure):
    client, script = make_client(failure, failure, ok())
    assert client.get(PATH, {"start_time": 0}).body == PAGE
    assert len(script.requests) == 3
    assert client.stats.retries == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # exponential, jittered 50-100 %


def test_retry_after_seconds_is_honoured(make_client, sleeps):
    client, _ = make_client(answer(429, {"error": "APIRateLimitExceeded"}, **{"retry-after": "7"}), ok())
    client.get(PATH, {"start_time": 0})
    assert sleeps == [7.0]
    assert client.stats.rate_limit_waits == 1


def test_retry_after_as_http_date_is_read_against_the_server_clock(make_client, sleeps):
    later = format_datetime(datetime(2024, 2, 8, 17, 27, 2, tzinfo=UTC), usegmt=True)
    client, _ = make_client(answer(429, {}, **{"retry-after": later}), ok())
    client.get(PATH, {"start_time": 0})
    assert sleeps == [12.0]


def test_a_429_without_retry_after_waits_for_the_next_minute_of_the_server(make_client, sleeps):
    client, _ = make_client(answer(429, {"error": "APIRateLimitExceeded"}), ok())
    client.get(PATH, {"start_time": 0})
    assert sleeps == [10 + PACING_MARGIN]


def test_a_429_without_any_hint_backs_off(make_client, sleeps):
    bare = httpx.Response(429, text="Number of allowed incremental export API requests per minute exceeded")
    client, _ = make_client(bare, ok())
    client.get(PATH, {"start_time": 0})
    assert 0.5 <= sleeps[0] <= 1.0


def test_the_real_recorded_429_is_retried_after_its_retry_after(make_client, sleeps, recorded):
    recording = next(i["response"] for i in recorded("UsersIncrementalTest.test_pagination.2023-09-10-with-429")
                     if i["response"]["status"]["code"] == 429)
    headers = {name: values[0] for name, values in recording["headers"].items()
               if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
    real = httpx.Response(429, headers=headers, content=json.dumps(recording["body"]).encode())
    client, _ = make_client(real, ok())
    client.get(PATH, {"start_time": 0})
    assert sleeps == [10.0]


@pytest.mark.parametrize("headers", [
    {"zendesk-ratelimit-incremental-exports": "total=10; remaining=0; resets=5"},
    {"x-rate-limit": "700", "x-rate-limit-remaining": "0", "ratelimit-reset": "5"},
    {"rate-limit": "700", "rate-limit-remaining": "0", "rate-limit-reset": "5"},
])
def test_an_empty_bucket_delays_the_next_request_instead_of_spending_a_429(headers):
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    script = Script(ok(**headers), ok())
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T")
    with ZendeskClient(config, sleep=sleep, clock=lambda: now[0], transport=httpx.MockTransport(script)) as client:
        client.get(PATH, {"start_time": 0})
        assert sleeps == []
        client.get(PATH, {"start_time": 0})
    assert sleeps == [5 + PACING_MARGIN]
    assert client.stats.rate_limit_waits == 1 and client.stats.retries == 0


def test_requests_left_in_the_bucket_are_spent_without_waiting(make_client, sleeps):
    client, _ = make_client(ok(**{"zendesk-ratelimit-incremental-exports": "total=10; remaining=1; resets=50",
                                  "x-rate-limit-remaining": "684"}))
    for _ in range(3):
        client.get(PATH, {"start_time": 0})
    assert sleeps == []


def test_a_request_that_keeps_failing_gives_up_within_the_budget(make_client, sleeps):
    client, script = make_client(answer(503, {"error": "down"}), retry_for=120)
    with pytest.raises(GaveUp, match=r"gave up after \d+ attempts .*server error 503") as raised:
        client.get(PATH, {"start_time": 0})
    assert sum(sleeps) <= 120
    assert len(script.requests) == len(sleeps) + 1 > 3
    assert "\n" not in str(raised.value)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``time.sleep`` the test's own thread asks for, recorded instead of slept (server threads sleep)."""
    calls: list[float] = []
    real_sleep, test_thread = time.sleep, threading.current_thread()

    def recording_sleep(seconds: float) -> None:
        if threading.current_thread() is test_thread:
            calls.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", recording_sleep)
    return calls


@pytest.mark.parametrize("no_backoff", [True, False])
def test_no_backoff_mode_never_sleeps_but_still_gives_up(slept, no_backoff):
    """The same failing server, with and without the no-backoff mode: the waits are planned either way, and
    slept only without it."""
    script = Script(answer(503, {}))
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=no_backoff,
                          retry_for=10)
    with ZendeskClient(config, transport=httpx.MockTransport(script)) as client, pytest.raises(GaveUp):
        client.get(PATH, {"start_time": 0})
    assert client.stats.retries >= 3 and client.stats.waited_seconds > 0
    assert len(slept) == (0 if no_backoff else client.stats.retries)


def test_no_backoff_mode_takes_retry_after_without_sleeping(slept):
    script = Script(answer(429, {"error": "APIRateLimitExceeded"}, **{"retry-after": "30"}), ok())
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True)
    with ZendeskClient(config, transport=httpx.MockTransport(script)) as client:
        client.get(PATH, {"start_time": 0})
    assert (client.stats.rate_limit_waits, client.stats.waited_seconds, slept) == (1, 30.0, [])


def reference_body(path: str) -> bytes:
    return json.dumps(load_reference(path)).encode()


@pytest.mark.parametrize(("status", "body", "error", "message"), [
    (401, b'{"error":"Couldn\'t authenticate you"}', AuthenticationFailed,
     "wrong credentials: acme.zendesk.com answered 401 (Couldn't authenticate you); check --email and --token"),
    (403, "fixtures/amp-labs/forbidden.json", PermissionDenied,
     "not an admin: admin@acme.com may not use the incremental export (Forbidden: You do not have access"),
    (404, "fixtures/aaronellington-zendesk-go/show_404_wrong_subdomain.json", AccountNotFound,
     "no such account: No help desk at "),
    (404, b'{"error":"InvalidEndpoint","description":"Not found"}', AccountNotFound,
     "not found: /api/v2/incremental/tickets.json on acme.zendesk.com (InvalidEndpoint: Not found); is --url"),
    (422, b'{"error":"InvalidValue","description":"Too recent start_time. Use a start_time older than 1 minute"}',
     TooRecentStartTime, "start_time too recent"),
    (400, b'{"error":"InvalidValue","description":"start_time is in the future"}', TooRecentStartTime,
     "start_time too recent"),
    (400, b'{"error":"ParameterMissing","description":"Parameter start_time is required"}', ApiError,
     "Zendesk answered 400 (ParameterMissing: Parameter start_time is required)"),
])
def test_answers_that_retrying_cannot_fix_raise_one_line_errors(make_client, status, body, error, message):
    content = body if isinstance(body, bytes) else reference_body(body)
    client, script = make_client(answer(status, content))
    with pytest.raises(error) as raised:
        client.get(PATH, {"start_time": 0})
    assert type(raised.value) is error
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert len(script.requests) == 1


def test_an_oauth_token_that_is_refused_points_at_the_oauth_option(make_client):
    body = {"error": "invalid_token", "error_description": "The access token provided is expired"}
    client, _ = make_client(answer(401, body), oauth_token="O", email=None, token=None)
    with pytest.raises(AuthenticationFailed, match="invalid_token: The access token provided is expired.*--oauth"):
        client.get(PATH, {"start_time": 0})


@pytest.mark.parametrize(("failure", "reason"), [
    (httpx.ConnectError("[Errno -2] Name or service not known"), "the host name acme.zendesk.com does not resolve"),
    (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
], ids=["unresolvable", "refused"])
def test_a_host_that_never_answered_is_given_up_within_seconds_naming_the_url(make_client, sleeps, failure,
                                                                              reason):
    client, script = make_client(failure)
    with pytest.raises(Unreachable, match=f"^cannot reach https://acme.zendesk.com: {reason}, ") as raised:
        client.get(PATH, {"start_time": 0})
    assert raised.value.exit_code == 1
    assert sum(sleeps) <= FIRST_CONTACT_WINDOW and len(script.requests) >= 2  # a blip still gets a retry


def test_once_the_host_has_answered_a_refused_connection_gets_the_whole_retry_window(make_client, sleeps):
    client, _ = make_client(ok(), httpx.ConnectError("[Errno 111] Connection refused"), retry_for=120)
    client.get(PATH, {"start_time": 0})
    with pytest.raises(GaveUp, match="connection refused"):
        client.get(PATH, {"start_time": 0})
    assert FIRST_CONTACT_WINDOW * 10 < sum(sleeps) <= 120


def test_the_server_clock_comes_from_the_last_date_header():
    headers = [("date", "Thu, 08 Feb 2024 10:00:00 GMT"), ("date", DATE)]
    script = Script(httpx.Response(200, json=PAGE, headers=headers))
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T")
    with ZendeskClient(config, transport=httpx.MockTransport(script)) as client:
        assert client.server_time is None
        client.get(PATH, {"start_time": 0})
        assert client.server_time == SERVER_NOW.timestamp()


@pytest.fixture
def self_signed_https_url(tmp_path) -> Iterator[str]:
    """A real HTTPS server on a free port whose certificate (for 127.0.0.1) no authority signed."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_every_client_refuses_a_certificate_no_authority_signed(self_signed_https_url, sleeps):
    """The clients of a run share one TLS context (made once): each still verifies the server's certificate."""
    config = ExportConfig(url=self_signed_https_url, email="a@b.c", token="T", retry_for=1)
    for _ in range(2):
        with ZendeskClient(config, sleep=sleeps.append) as client, \
                pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(PATH, {"start_time": 0})
