"""The time-based export's paging rules (reference §3.3), as pure functions and over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from zendesk_export.server.errors import InvalidParameter, ParameterMissing, TooRecentStartTime
from zendesk_export.server.export.incremental import next_page_url, parse_per_page, parse_start_time, time_page
from zendesk_export.server.store import ExportRow
from zendesk_export.testing import ZendeskServer

NOW = 2_000_000_000.0


def rows(*timestamps: int) -> list[ExportRow]:
    return [ExportRow(i, ts, b"") for i, ts in enumerate(timestamps, start=1)]


def test_short_page_ends_the_stream_at_its_last_timestamp() -> None:
    page = time_page(rows(10, 11, 12), per_page=5, whole_group=lambda ts: [])
    assert (page.end_time, page.end_of_stream, len(page.rows)) == (12, True, 3)


def test_empty_page_ends_the_stream_with_null_end_time() -> None:
    page = time_page([], per_page=5, whole_group=lambda ts: [])
    assert (page.end_time, page.end_of_stream) == (None, True)


def test_full_mixed_page_ends_at_last_timestamp_so_boundary_repeats() -> None:
    page = time_page(rows(10, 11, 12), per_page=3, whole_group=lambda ts: [])
    assert (page.end_time, page.end_of_stream) == (12, False)


def test_full_single_timestamp_page_grows_to_whole_group_and_ends_at_ts_plus_one() -> None:
    group = rows(7, 7, 7, 7, 7)
    page = time_page(group[:2], per_page=2, whole_group=lambda ts: group)
    assert (len(page.rows), page.end_time, page.end_of_stream) == (5, 8, False)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("946684800.0", 946684800), ("946684800.9", 946684800)])
def test_start_time_accepts_integers_and_floats(raw: str, expected: int) -> None:
    assert parse_start_time({"start_time": raw}, NOW) == expected


@pytest.mark.parametrize(("raw", "error"), [
    (None, ParameterMissing), ("", ParameterMissing), ("x", InvalidParameter), ("-1", InvalidParameter),
    ("inf", InvalidParameter), (str(int(NOW) - 59), TooRecentStartTime), (str(int(NOW) + 10), TooRecentStartTime),
])
def test_start_time_errors(raw: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_start_time({} if raw is None else {"start_time": raw}, NOW)


@pytest.mark.parametrize(("raw", "expected"), [(None, 1000), ("1", 1), ("1000", 1000), ("5000", 1000),
                                                 ("0", 1000), ("-3", 1000), ("ten", 1000)])
def test_per_page_defaults_and_clamps_to_1000(raw: str | None, expected: int) -> None:
    assert parse_per_page({} if raw is None else {"per_page": raw}) == expected


def test_next_page_keeps_params_sorted_and_replaces_start_time() -> None:
    url = next_page_url("http://h:1", "/api/v2/incremental/tickets",
                        [("start_time", "5"), ("per_page", "2"), ("include", "users"), ("sort_by", "+x")],
                        ("start_time", "9"))
    assert url == "http://h:1/api/v2/incremental/tickets.json?include=users&per_page=2&sort_by=%2Bx&start_time=9"


def create(server: ZendeskServer, subject: str) -> int:
    with server.client() as client:
        response = client.post("/api/v2/tickets", json={"ticket": {"subject": subject, "comment": {"body": "b"}}})
    return int(response.json()["ticket"]["id"])


def test_changes_of_the_last_minute_are_hidden_until_a_minute_passes(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze()
    ticket_id = create(zendesk_server, "fresh")
    with zendesk_server.client() as client:
        assert client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()["tickets"] == []
        zendesk_server.admin.advance(60)
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
    assert [t["id"] for t in page["tickets"]] == [ticket_id]


def test_next_page_is_absolute_on_the_host_the_client_used(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze()
    create(zendesk_server, "one")
    zendesk_server.admin.advance(61)
    with zendesk_server.client() as client:
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0, "per_page": 5},
                          headers={"Host": "example.localhost:9999"}).json()
    parts = urlsplit(page["next_page"])
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "example.localhost:9999",
                                                        "/api/v2/incremental/tickets.json")
    assert parse_qs(parts.query) == {"per_page": ["5"], "start_time": [str(page["end_time"])]}
    assert page["tickets"][0]["url"].startswith("http://example.localhost:9999/api/v2/tickets/")


def test_deleted_tickets_stay_in_the_export_unless_excluded(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze()
    kept, deleted = create(zendesk_server, "kept"), create(zendesk_server, "deleted")
    with zendesk_server.client() as client:
        assert client.delete(f"/api/v2/tickets/{deleted}").status_code == 204
        zendesk_server.admin.advance(61)
        everything = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()["tickets"]
        live = client.get("/api/v2/incremental/tickets",
                          params={"start_time": 0, "exclude_deleted": "true"}).json()["tickets"]
    assert {t["id"]: t["status"] for t in everything} == {kept: "new", deleted: "deleted"}
    assert [t["id"] for t in live] == [kept]


def test_count_is_the_number_of_tickets_in_this_page(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.seed(tickets=250, random_seed=3)
    with zendesk_server.client() as client:
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0, "per_page": 100}).json()
    assert page["count"] == len(page["tickets"]) >= 100


def test_date_header_follows_the_server_clock(zendesk_server: ZendeskServer) -> None:
    """Clients that keep start_time a minute behind the server's time read it from `Date`."""
    zendesk_server.admin.freeze(1_000_000_000)
    with zendesk_server.client() as client:
        response = client.get("/api/v2/incremental/tickets", params={"start_time": 0})
    assert response.headers.get_list("date") == ["Sun, 09 Sep 2001 01:46:40 GMT"]


@pytest.mark.parametrize("scope", ["all", "agent", "ai_agent"])
def test_support_type_scope_is_accepted_and_kept_in_next_page(zendesk_server: ZendeskServer, scope: str) -> None:
    zendesk_server.admin.seed(tickets=20, random_seed=1)
    with zendesk_server.client() as client:
        page = client.get("/api/v2/incremental/tickets", params={"start_time": 0, "support_type_scope": scope})
    assert page.status_code == 200
    assert page.json()["count"] == 20
    assert f"support_type_scope={scope}" in page.json()["next_page"]
