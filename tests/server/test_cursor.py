"""The cursor-based ticket export: cursor format and parsing, strict paging, URLs, errors (reference §1.2, §2.2)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest

from zendesk_export.server.errors import InvalidPaginationParameter
from zendesk_export.server.export.cursor import decode_cursor, encode_cursor
from zendesk_export.testing import ZendeskServer

CURSOR = "/api/v2/incremental/tickets/cursor.json"
KEYS = ["tickets", "after_url", "before_url", "after_cursor", "before_cursor", "end_of_stream"]
T0 = 1_700_000_000


def make_tickets(server: ZendeskServer, per_second: list[int]) -> list[int]:
    """Create tickets at T0, T0+1, … (``per_second[i]`` of them in second i); then make them all visible."""
    server.admin.freeze(T0)
    ids = []
    with server.client() as client:
        for count in per_second:
            for _ in range(count):
                response = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "c"}})
                ids.append(response.json()["ticket"]["id"])
            server.admin.advance(1)
    server.admin.advance(61)
    return ids


def get(server: ZendeskServer, path: str = CURSOR, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params)


def walk(server: ZendeskServer, **params: Any) -> list[dict[str, Any]]:
    """Follow after_url from the first page to end_of_stream; returns the pages."""
    pages = [get(server, **params).json()]
    while not pages[-1]["end_of_stream"]:
        with server.client() as client:
            pages.append(client.get(pages[-1]["after_url"]).json())
    return pages


# -- the cursor itself ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("cursor", "position"), [
    ("MTY5NTA1MjY2My4wfHwyOHw=", (1695052663, 28)),  # recorded
    ("MTcwNzI3MTc0MS4wfHw0MDQ1fA==", (1707271741, 4045)),  # recorded, two padding characters
    ("MTY5NDMwMzUyNi4wfHw2MTMwODY5MTY4OTIyfA==", (1694303526, 6130869168922)),  # recorded users cursor
    ("MTY5NTA1MjY2My4wfHwyOHw", (1695052663, 28)),  # padding lost
    ("MTY5NTA1MjY2My4wfHwyOHw%3D", (1695052663, 28)),  # still URL-encoded
])
def test_recorded_cursors_decode_to_their_position(cursor: str, position: tuple[int, int]) -> None:
    assert decode_cursor(cursor) == position


def test_encoding_reproduces_zendesks_bytes() -> None:
    assert encode_cursor((1695052663, 28)) == "MTY5NTA1MjY2My4wfHwyOHw="
    assert encode_cursor((1707271741, 4045)) == "MTcwNzI3MTc0MS4wfHw0MDQ1fA=="


@pytest.mark.parametrize("position", [(0, 0), (T0, 1), (T0 + 7, 123456), (9_999_999_999, 6130869168922)])
def test_issued_cursors_need_no_escaping_but_their_padding(position: tuple[int, int]) -> None:
    """Digits, `.` and `|` never produce `+` or `/` in base64, so a client that sends the cursor raw (zenpy)
    can only lose its `=` padding — which decoding tolerates."""
    cursor = encode_cursor(position)
    assert "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor.rstrip("=")) == position
    assert decode_cursor(" " + cursor.replace("=", "%3D") + " ") == position


@pytest.mark.parametrize("garbled", ["", "garbage", "!!!", "MTY5", base64.b64encode(b"1.0||x|").decode(),
                                     base64.b64encode(b"hello").decode(), "%ZZ", "a" * 5000])
def test_garbled_cursors_raise_the_400_error(garbled: str) -> None:
    with pytest.raises(InvalidPaginationParameter):
        decode_cursor(garbled)


# -- pages ------------------------------------------------------------------------------------------
def test_pages_are_strict_per_page_in_timestamp_then_id_order(zendesk_server: ZendeskServer) -> None:
    """7 tickets in one second, per_page=2: pages of exactly 2 (no group expansion), every ticket once."""
    ids = make_tickets(zendesk_server, [7, 3])
    pages = walk(zendesk_server, start_time=0, per_page=2)
    assert [len(p["tickets"]) for p in pages] == [2, 2, 2, 2, 2]
    seen = [(t["generated_timestamp"], t["id"]) for p in pages for t in p["tickets"]]
    assert seen == sorted(seen) and [i for _, i in seen] == ids


def test_envelope_has_exactly_the_cursor_keys_and_null_before(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [3])
    body = get(zendesk_server, start_time=0, per_page=2).json()
    assert list(body) == KEYS
    assert body["before_url"] is None and body["before_cursor"] is None
    assert body["end_of_stream"] is False


def test_after_cursor_is_the_last_item_and_after_url_carries_it_encoded(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [3])
    body = get(zendesk_server, start_time=0, per_page=2).json()
    last = body["tickets"][-1]
    assert body["after_cursor"] == encode_cursor((last["generated_timestamp"], last["id"]))
    url = urlsplit(body["after_url"])
    assert f"{url.scheme}://{url.netloc}" == zendesk_server.url
    assert url.path == CURSOR
    assert url.query == f"cursor={quote(body['after_cursor'], safe='')}&per_page=2"


def test_other_params_are_kept_sorted_and_start_time_dropped(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [1])
    body = get(zendesk_server, start_time=0, per_page=5, exclude_deleted="true").json()
    names = [k for k, _ in parse_qsl(urlsplit(body["after_url"]).query)]
    assert names == ["cursor", "exclude_deleted", "per_page"]


def test_last_page_ends_the_stream_and_still_carries_the_cursor(zendesk_server: ZendeskServer) -> None:
    ids = make_tickets(zendesk_server, [2])
    body = get(zendesk_server, start_time=0).json()
    assert body["end_of_stream"] is True
    assert decode_cursor(body["after_cursor"])[1] == ids[-1]
    assert body["after_url"] is not None


def test_empty_page_echoes_the_cursor_it_was_given(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [2])
    last = get(zendesk_server, start_time=0).json()
    again = get(zendesk_server, cursor=last["after_cursor"]).json()
    assert again["tickets"] == [] and again["end_of_stream"] is True
    assert again["after_cursor"] == last["after_cursor"]


def test_a_first_request_that_finds_nothing_resumes_from_its_start_time(zendesk_server: ZendeskServer) -> None:
    """Empty first page: the cursor stands at start_time, so what changes later at/after it still comes."""
    zendesk_server.admin.freeze(T0)
    empty = get(zendesk_server, start_time=T0 - 100).json()
    assert empty["tickets"] == [] and decode_cursor(empty["after_cursor"]) == (T0 - 100, 0)
    ids = make_tickets(zendesk_server, [1])
    later = get(zendesk_server, cursor=empty["after_cursor"]).json()
    assert [t["id"] for t in later["tickets"]] == ids


def test_a_changed_ticket_comes_again_after_the_cursor(zendesk_server: ZendeskServer) -> None:
    ids = make_tickets(zendesk_server, [2])
    first = get(zendesk_server, start_time=0).json()
    with zendesk_server.client() as client:
        client.put(f"/api/v2/tickets/{ids[0]}.json", json={"ticket": {"status": "open"}})
    zendesk_server.admin.advance(61)
    second = get(zendesk_server, cursor=first["after_cursor"]).json()
    assert [(t["id"], t["status"]) for t in second["tickets"]] == [(ids[0], "open")]


@pytest.mark.parametrize("mangle", [
    lambda c: c,  # as issued
    lambda c: c.replace("+", " "),  # `+` decoded to a space by a sloppy client
    lambda c: quote(c, safe=""),  # double-encoded
])
def test_cursor_survives_the_ways_clients_send_it(zendesk_server: ZendeskServer, mangle: Any) -> None:
    make_tickets(zendesk_server, [3])
    first = get(zendesk_server, start_time=0, per_page=1).json()
    second = get(zendesk_server, cursor=mangle(first["after_cursor"]), per_page=1).json()
    assert second["tickets"][0]["id"] == first["tickets"][0]["id"] + 1


def test_an_unencoded_cursor_in_the_raw_query_string_works(zendesk_server: ZendeskServer) -> None:
    """zenpy puts the cursor in the URL as is: `==` and `+` unescaped."""
    make_tickets(zendesk_server, [2])
    first = get(zendesk_server, start_time=0, per_page=1).json()
    raw = httpx.get(f"{zendesk_server.url}{CURSOR}?per_page=1&cursor={first['after_cursor']}",
                    auth=zendesk_server.auth)
    assert raw.json()["tickets"][0]["id"] == first["tickets"][0]["id"] + 1


def test_cursor_wins_over_start_time(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [3])
    first = get(zendesk_server, start_time=0, per_page=1).json()
    both = get(zendesk_server, cursor=first["after_cursor"], start_time=0, per_page=1).json()
    assert both["tickets"][0]["id"] == first["tickets"][0]["id"] + 1


def test_garbled_cursor_gets_a_zendesk_shaped_400(zendesk_server: ZendeskServer) -> None:
    response = get(zendesk_server, cursor="bm90IGEgY3Vyc29y")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidPaginationParameter"
    assert set(response.json()) == {"error", "description"}


@pytest.mark.parametrize(("params", "status"), [
    ({}, 400), ({"start_time": "soon"}, 400), ({"start_time": 10**12}, 422)])
def test_first_call_needs_a_valid_old_enough_start_time(zendesk_server: ZendeskServer, params: dict[str, Any],
                                                         status: int) -> None:
    assert get(zendesk_server, **params).status_code == status


def test_the_last_minute_is_hidden(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(T0)
    with zendesk_server.client() as client:
        client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "c"}})
    zendesk_server.admin.advance(59)
    assert get(zendesk_server, start_time=T0 - 100).json()["tickets"] == []
    zendesk_server.admin.advance(1)
    assert len(get(zendesk_server, start_time=T0 - 100).json()["tickets"]) == 1


def test_suffixless_path_is_served_too_and_urls_use_the_json_form(zendesk_server: ZendeskServer) -> None:
    make_tickets(zendesk_server, [1])
    body = get(zendesk_server, "/api/v2/incremental/tickets/cursor", start_time=0).json()
    assert urlsplit(body["after_url"]).path == CURSOR


def test_agent_is_refused_with_403(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + CURSOR, params={"start_time": 0},
                         auth=(f"{zendesk_server.agent_email}/token", zendesk_server.agent_token))
    assert response.status_code == 403
