"""Hostile input gets Zendesk's own status and JSON error body with the usual headers — never a 500, a plain-text
body or a dropped connection — and the server keeps answering the next, ordinary request."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from zendesk_export.testing import ZendeskServer

BEYOND = 2**63  # one past Zendesk's largest id
HUGE = "9" * 5000  # more digits than Python's int() reads
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
INVALID_JSON_DEPTH = {"error": "InvalidJSON",
                      "description": "The request body is nested too deeply or holds a number out of range"}
NOT_JSON = {"error": "InvalidJSON", "description": "The request body is not valid JSON"}
UNAUTHENTICATED = {"error": "Couldn't authenticate you"}


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _invalid(field: str, label: str) -> dict[str, Any]:
    return {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {field: [{"description": f"{label}: is invalid", "error": "InvalidValue"}]}}


def _ticket(**fields: Any) -> bytes:
    return json.dumps({"ticket": {"subject": "s", "comment": {"body": "b"}, **fields}}).encode()


NESTED = b'{"ticket":{"subject":"s","comment":{"body":"b"},"custom_fields":[{"id":1,"value":' + \
    b"[" * 1000 + b"]" * 1000 + b"}]}}"

CASES: list[tuple[str, str, str, bytes | None, dict[str, str], int, Any]] = [
    ("path id beyond 2**63-1", "GET", f"/api/v2/tickets/{BEYOND}.json", None, {}, 404, NOT_FOUND),
    ("path id of 5000 digits", "GET", f"/api/v2/tickets/{HUGE}.json", None, {}, 404, NOT_FOUND),
    ("path id beyond range on update", "PUT", f"/api/v2/tickets/{BEYOND}.json", _ticket(), {}, 404, NOT_FOUND),
    ("path id beyond range on delete", "DELETE", f"/api/v2/tickets/{BEYOND}.json", None, {}, 404, NOT_FOUND),
    ("user id beyond range", "GET", f"/api/v2/users/{BEYOND}.json", None, {}, 404, NOT_FOUND),
    ("organization id of 5000 digits", "GET", f"/api/v2/organizations/{HUGE}.json", None, {}, 404, NOT_FOUND),
    ("group id of 5000 digits", "GET", f"/api/v2/groups/{HUGE}.json", None, {}, 404, NOT_FOUND),
    ("page[size] with a superscript two", "GET", "/api/v2/groups.json?page[size]=%C2%B2", None, {}, 400,
     {"error": "InvalidPaginationParameter", "description": "page[size] is not valid"}),
    ("page[size] of 5000 digits", "GET", f"/api/v2/groups.json?page[size]=1{'0' * 5000}", None, {}, 400,
     {"error": "InvalidPaginationParameter", "description": "page[size] cannot be greater than 100"}),
    ("ids= beyond range", "GET", f"/api/v2/tickets/show_many.json?ids=1,{BEYOND}", None, {}, 404, NOT_FOUND),
    ("ids= of 5000 digits", "GET", f"/api/v2/tickets/show_many.json?ids={HUGE}", None, {}, 404, NOT_FOUND),
    ("ids= with a superscript two", "GET", "/api/v2/tickets/show_many.json?ids=%C2%B2", None, {}, 400,
     {"error": "InvalidValue", "description": "ids must be a comma-separated list of integers, got '²'"}),
    ("cursor naming an id beyond range", "GET",
     f"/api/v2/incremental/tickets/cursor.json?cursor={_cursor(f'1000.0||{BEYOND}|')}", None, {}, 400,
     {"error": "InvalidPaginationParameter",
      "description": f"Invalid cursor: {_cursor(f'1000.0||{BEYOND}|')!r}"}),
    ("group_id beyond range in a new ticket", "POST", "/api/v2/tickets.json", _ticket(group_id=BEYOND), {}, 422,
     _invalid("group_id", "Group")),
    ("requester_id beyond range", "POST", "/api/v2/tickets.json", _ticket(requester_id=BEYOND), {}, 422,
     _invalid("requester_id", "Requester")),
    ("group_id beyond range in an update", "PUT", "/api/v2/tickets/1.json", _ticket(group_id=BEYOND), {}, 422,
     _invalid("group_id", "Group")),
    ("collaborator id beyond range", "POST", "/api/v2/tickets.json", _ticket(collaborator_ids=[BEYOND]), {}, 422,
     _invalid("collaborator_ids", "Collaborators")),
    ("custom field id beyond 64 bits", "POST", "/api/v2/tickets.json",
     _ticket(custom_fields=[{"id": 2**64, "value": "x"}]), {}, 422, _invalid("custom_fields", "Custom fields")),
    ("organization_id beyond range on a user", "POST", "/api/v2/users.json",
     orjson.dumps({"user": {"name": "n", "organization_id": BEYOND}}), {}, 422, None),
    ("custom field value nested 1000 deep", "POST", "/api/v2/tickets.json", NESTED, {}, 400, INVALID_JSON_DEPTH),
    ("a number beyond a double", "POST", "/api/v2/tickets.json", b'{"ticket":{"tags":[1e400]}}', {}, 400,
     NOT_JSON),
    ("non-ASCII Basic credentials", "GET", "/api/v2/tickets/1.json", None,
     {"Authorization": "Basic é…"}, 401, UNAUTHENTICATED),
]


def _send(server: ZendeskServer, method: str, path: str, body: bytes | None, headers: dict[str, str]
          ) -> httpx.Response:
    auth = None if "Authorization" in headers else httpx.BasicAuth(*server.auth)
    raw = {k: v.encode() for k, v in headers.items()}  # sent as UTF-8 bytes, as a careless client would
    with httpx.Client(base_url=server.url, auth=auth, timeout=30) as client:
        return client.request(method, path, content=body, headers={"Content-Type": "application/json", **raw})


def _assert_zendesk_answer(response: httpx.Response, status: int, body: Any) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["x-zendesk-api-version"] == "v2"
    if body is not None:
        assert response.json() == body
    else:
        assert response.json()["error"] == "RecordInvalid"


def _assert_still_serving(server: ZendeskServer) -> None:
    with server.client() as client:
        created = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "ok", "comment": "fine"}})
        assert created.status_code == 201
        assert client.get(f"/api/v2/tickets/{created.json()['ticket']['id']}.json").status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_input_gets_a_zendesk_error_and_the_server_keeps_serving(
        zendesk_server: ZendeskServer, method: str, path: str, body: bytes | None, headers: dict[str, str],
        status: int, expected: Any) -> None:
    _assert_zendesk_answer(_send(zendesk_server, method, path, body, headers), status, expected)
    _assert_still_serving(zendesk_server)


@pytest.mark.parametrize("change", [{"freeze_at": 1e18}, {"freeze_at": -1}, {"advance": 1e18}, {"advance": -1e12}])
def test_clock_set_beyond_what_a_timestamp_can_say_is_refused(zendesk_server: ZendeskServer,
                                                              change: dict[str, float]) -> None:
    """The clock stays where it was, so every later request still renders its timestamps."""
    before = zendesk_server.admin.clock()
    response = httpx.post(zendesk_server.url + "/__admin/clock", json=change,
                          headers={"Authorization": f"Bearer {zendesk_server.running.admin_token}"})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidValue"
    assert "253402300799" in response.json()["description"]
    assert abs(zendesk_server.admin.clock()["now"] - before["now"]) < 60
    _assert_still_serving(zendesk_server)


def test_unexpected_failure_is_a_zendesk_500_with_the_usual_headers(tmp_path: Path) -> None:
    """A store that fails under a request (a table gone) answers Zendesk-shaped JSON; the traceback stays in the
    server log, and requests that do not need the broken part keep working."""
    server = ZendeskServer.start(tmp_path / "zendesk.db")
    try:
        with sqlite3.connect(tmp_path / "zendesk.db") as db:
            db.execute("DROP TABLE audits")
        with server.client() as client:
            response = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "b"}})
            assert response.status_code == 500
            assert response.json() == {"error": "InternalError", "description": "The server failed to handle this "
                                       "request; the error is in the server's log"}
            assert response.headers["x-zendesk-api-version"] == "v2"
            assert "x-request-id" in response.headers
            assert "Traceback" not in response.text
            assert client.get("/api/v2/users/me.json").status_code == 200
    finally:
        server.stop()


def test_admin_scrub_of_an_id_beyond_range_is_refused(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + "/__admin/scrub", json={"ticket_ids": [1, BEYOND]},
                          headers={"Authorization": f"Bearer {zendesk_server.running.admin_token}"})
    assert (response.status_code, response.json()) == (
        400, {"error": "InvalidValue", "description": "ticket_ids must be a list of ticket ids"})
    _assert_still_serving(zendesk_server)
