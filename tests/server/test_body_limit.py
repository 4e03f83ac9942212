"""A request body over 10 MiB is refused with 413 before it is read whole and before anyone is authenticated:
declared too long, or streamed (chunked) past the limit."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from zendesk_export.testing import ZendeskServer

LIMIT = 10 * 1024 * 1024
TOO_LARGE = {"error": "PayloadTooLarge", "description": f"The request body is larger than {LIMIT} bytes"}


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["x-zendesk-api-version"] == "v2"
    assert "x-request-id" in response.headers


def _still_answers(server: ZendeskServer) -> None:
    with server.client() as client:
        assert client.get("/api/v2/tickets/show_many.json", params={"ids": "1"}).status_code == 200


def test_declared_length_over_the_limit_is_refused_before_the_body_is_sent(zendesk_server: ZendeskServer) -> None:
    """Only the headers go out: the answer comes without the server waiting for 10 MiB it will never read."""
    host, port = urlsplit(zendesk_server.url).hostname or "", urlsplit(zendesk_server.url).port or 0
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /api/v2/tickets.json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (LIMIT + 1))
        answer = _read_response(sock)
    assert answer.startswith("HTTP/1.1 413 ")
    assert answer.endswith('{"error":"PayloadTooLarge","description":"The request body is larger than 10485760 bytes"}')
    _still_answers(zendesk_server)


def _read_response(sock: socket.socket) -> str:
    """Status line, headers and the whole body (by its Content-Length), however the segments arrive."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_anonymous_oversized_post_gets_413_not_401(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + "/api/v2/tickets.json", content=b"x" * (LIMIT + 1),
                          headers={"Content-Type": "application/json"}, timeout=60)
    _assert_refused(response)
    _still_answers(zendesk_server)


def test_chunked_body_growing_past_the_limit_is_refused(zendesk_server: ZendeskServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"ticket": {"subject": "'
        for _ in range(12):
            yield b"a" * (1024 * 1024)
        yield b'"}}'

    response = httpx.post(zendesk_server.url + "/api/v2/tickets.json", content=chunks(),
                          auth=zendesk_server.auth, headers={"Content-Type": "application/json"}, timeout=60)
    assert "content-length" not in response.request.headers
    _assert_refused(response)
    _still_answers(zendesk_server)


def test_body_at_the_limit_is_read(zendesk_server: ZendeskServer) -> None:
    """Exactly 10 MiB passes the limit (and gets the ordinary answer for a body that is not a ticket)."""
    body = b'{"ticket": {"subject": "' + b"a" * (LIMIT - 27) + b'"}}'
    assert len(body) == LIMIT
    with zendesk_server.client() as client:
        response = client.post("/api/v2/tickets.json", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
