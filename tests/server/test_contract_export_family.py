"""Contract tests for the rest of the export family against real recorded responses: cursor pages (replayed
ticket for ticket, cursor for cursor), ticket events, users and organizations pages, job statuses and bulk
responses (same keys, in order, and same JSON types)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.reference import cassette, load_reference
from tests.server.test_contract import load_tickets, recorded_pages, replay, without_host
from zendesk_export.testing import ZendeskServer

CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"


def same_shape(ours: Any, real: Any, path: str = "$", ordered: bool = True) -> None:
    """Same keys (in the same order unless ``ordered`` is false: sanitised fixtures reorder keys); same types
    wherever both are non-null; lists compared by their first element."""
    if ours is None or real is None:
        return
    if isinstance(real, dict):
        assert isinstance(ours, dict), path
        if ordered:
            assert list(ours) == list(real), f"{path}: keys {list(ours)} != {list(real)}"
        assert set(ours) == set(real), f"{path}: keys {sorted(ours)} != {sorted(real)}"
        for key in real:
            same_shape(ours[key], real[key], f"{path}.{key}", ordered)
    elif isinstance(real, list):
        assert isinstance(ours, list), path
        if ours and real:
            same_shape(ours[0], real[0], f"{path}[0]", ordered)
    else:
        assert type(ours) is type(real) or {type(ours), type(real)} <= {int, float}, f"{path}: {ours!r} vs {real!r}"


# -- cursor pages ------------------------------------------------------------------------------------------
def cursor_pages(name: str) -> list[dict[str, Any]]:
    return recorded_pages(name, CURSOR_PATH)


def test_recorded_cursor_pages_replay_identically(zendesk_server: ZendeskServer) -> None:
    """Feb 2024: `start_time=0` (87 tickets, end of stream) and `per_page=1`: same tickets, same cursors."""
    pages = cursor_pages("TicketsIncrementalTest.test_get_values")
    load_tickets(zendesk_server, pages[0]["body"]["tickets"])
    for recorded in pages:
        ours = replay(zendesk_server, recorded["uri"]).json()
        assert list(ours) == list(recorded["body"])
        assert [t["id"] for t in ours["tickets"]] == [t["id"] for t in recorded["body"]["tickets"]]
        for key in ("after_cursor", "before_cursor", "before_url", "end_of_stream"):
            assert ours[key] == recorded["body"][key], (recorded["uri"], key)
        assert without_host(ours["after_url"]) == without_host(recorded["body"]["after_url"])


def test_recorded_per_page_one_cursor_chain_replays_cursor_for_cursor(zendesk_server: ZendeskServer) -> None:
    """Sept 2023: ~100 chained `per_page=1` pages through groups of tickets sharing one second, (ts, id) order."""
    full = recorded_pages("TicketsIncrementalTest.test_pagination", "/api/v2/incremental/tickets.json")[0]
    load_tickets(zendesk_server, full["body"]["tickets"])
    chain = [p for p in cursor_pages("TicketsIncrementalTest.test_pagination") if "per_page=1" in p["uri"]]
    assert len(chain) > 50
    for recorded in chain:
        ours = replay(zendesk_server, recorded["uri"]).json()
        assert [t["id"] for t in ours["tickets"]] == [t["id"] for t in recorded["body"]["tickets"]]
        assert ours["after_cursor"] == recorded["body"]["after_cursor"]
        assert without_host(ours["after_url"]) == without_host(recorded["body"]["after_url"])


def test_recorded_1000_ticket_cursor_page_matches(zendesk_server: ZendeskServer) -> None:
    """The recorded time-based and cursor pages (same session) hold each other's boundary tickets: load both."""
    full = recorded_pages("TicketsIncrementalTest.test_pagination", "/api/v2/incremental/tickets.json")[0]
    recorded = next(p for p in cursor_pages("TicketsIncrementalTest.test_pagination") if "start_time=0" in p["uri"]
                    and "per_page" not in p["uri"])
    load_tickets(zendesk_server, full["body"]["tickets"] + recorded["body"]["tickets"])
    ours = replay(zendesk_server, recorded["uri"]).json()
    assert [t["id"] for t in ours["tickets"]] == [t["id"] for t in recorded["body"]["tickets"]]
    assert ours["after_cursor"] == recorded["body"]["after_cursor"]
    same_shape(ours, recorded["body"])


def test_amp_cursor_fixture_has_our_shape(zendesk_server: ZendeskServer) -> None:
    real = load_reference("fixtures/amp-labs/read_incremental_tickets.json")
    with zendesk_server.client() as client:
        client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "c"}})
        zendesk_server.admin.advance(61)
        ours = client.get(CURSOR_PATH, params={"start_time": 0}).json()
    assert list(ours) == list(real)
    real_ticket = {k: v for k, v in real["tickets"][0].items() if k != "encoded_id"}  # Dec-2024 addition
    same_shape(ours["tickets"][0], real_ticket, ordered=False)  # sanitised: generated_timestamp moved up


# -- ticket events -----------------------------------------------------------------------------------------
def test_ticket_events_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    amp = load_reference("fixtures/amp-labs/read_incremental_ticket_events.json")
    embulk = load_reference("fixtures/embulk-input-zendesk/ticket_events_updated_by_system_records.json")
    with zendesk_server.client() as client:
        ticket = client.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "s", "comment": "c", "tags": ["a"], "assignee_id": 1}}).json()["ticket"]
        client.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"priority": "normal"}})
        zendesk_server.admin.advance(61)
        ours = client.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    assert list(ours) == list(amp)
    real_events = embulk["ticket_events"]
    for event in ours["ticket_events"]:
        same_shape({k: v for k, v in event.items() if k != "child_events"},
                   {k: v for k, v in amp["ticket_events"][0].items() if k != "child_events"})
    real_children = {_child_key(c): c for e in real_events for c in e["child_events"]}
    for event in ours["ticket_events"]:
        for child in event["child_events"]:
            if _child_key(child) in real_children:
                same_shape(child, real_children[_child_key(child)])
    assert {_child_key(c) for e in ours["ticket_events"] for c in e["child_events"]} & set(real_children) >= {
        ("Comment", "comment_present"), ("Create", "subject"), ("Create", "tags"), ("Create", "status"),
        ("Change", "priority")}


def _child_key(child: dict[str, Any]) -> tuple[str, str]:
    fixed = {"id", "via", "via_reference_id", "event_type", "previous_value", "added_tags", "removed_tags",
             "comment_public"}
    return child["event_type"], next(k for k in child if k not in fixed)


# -- users and organizations ----------------------------------------------------------------------------
def test_users_pages_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = {urlsplit(i["request"]["uri"]).path: i["response"]["body"]
                for i in cassette("UsersIncrementalTest.test_get_values")}
    with zendesk_server.client() as client:
        client.post("/api/v2/users.json", json={"user": {"name": "End User", "email": "e@example.org"}})
        zendesk_server.admin.advance(61)
        for path, real in recorded.items():
            ours = client.get(path, params={"start_time": 0}).json()
            assert list(ours) == list(real), path
            real_by_role = {u["role"]: u for u in real["users"]}
            for user in ours["users"]:
                same_shape(user, real_by_role.get(user["role"], real["users"][0]))
    amp = load_reference("fixtures/amp-labs/read_incremental_users-1-first-page.json")
    same_shape(ours["users"][0], amp["users"][0])


def test_organizations_page_has_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    real = load_reference("fixtures/amp-labs/read_incremental_organizations.json")
    zendesk_server.admin.seed(tickets=5)
    with zendesk_server.client() as client:
        ours = client.get("/api/v2/incremental/organizations.json", params={"start_time": 0}).json()
    same_shape(ours, real)


def test_single_records_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = {urlsplit(i["request"]["uri"]).path.split("/")[3]: i["response"]["body"]
                for i in cassette("TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple")
                if "/users/" in i["request"]["uri"] or "/organizations/" in i["request"]["uri"]}
    with zendesk_server.client() as client:
        org = client.post("/api/v2/organizations.json", json={"organization": {"name": "O"}}).json()
        user = client.get("/api/v2/users/1.json").json()
    same_shape(user, recorded["users"])
    org["organization"].pop("deleted_at")  # present in exports, absent from the recorded show
    same_shape(org, recorded["organizations"])


# -- bulk and job statuses --------------------------------------------------------------------------------
def job_reads(name: str) -> list[dict[str, Any]]:
    return [i for i in cassette(name) if "job_status" in (i["response"]["body"] or {})]


def test_create_many_job_statuses_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = job_reads("TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple")
    states = _run_job(zendesk_server, "POST", "/api/v2/tickets/create_many.json", recorded[0]["request"]["body"])
    assert [s["status"] for s in states] == ["queued", "working", "completed"]
    real = {r["response"]["body"]["job_status"]["status"]: r["response"]["body"] for r in recorded}
    for state in states:
        same_shape({"job_status": state}, real[state["status"]])
    assert states[-1]["total"] == len(states[-1]["results"]) == 100


def test_update_many_results_have_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    recorded = job_reads("TestTicketCreateUpdateDelete.test_multiple_update_full_objects-update-many")
    created = _run_job(zendesk_server, "POST", "/api/v2/tickets/create_many.json",
                       {"tickets": [{"subject": "t", "description": "d"}] * 3})[-1]["results"]
    body = {"tickets": [{"id": r["id"], "subject": "u", "description": "u"} for r in created]}
    states = _run_job(zendesk_server, "PUT", "/api/v2/tickets/update_many.json", body)
    same_shape({"job_status": states[-1]}, recorded[-1]["response"]["body"])
    assert states[-1]["message"].startswith("Completed at ") and states[1]["message"] == "Updating ticket #1"


def test_too_many_values_is_the_recorded_body(zendesk_server: ZendeskServer) -> None:
    recorded = cassette("TestTicketCreateUpdateDelete.test_raises_toomanyvaluesexception_create-create-multiple")[0]
    with zendesk_server.client() as client:
        ours = client.post("/api/v2/tickets/create_many.json", json=recorded["request"]["body"])
    assert ours.status_code == recorded["response"]["status"]["code"] == 400
    assert ours.json() == recorded["response"]["body"]


def test_show_many_has_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    recorded = next(i for i in cassette("TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple")
                    if "show_many" in i["request"]["uri"])["response"]["body"]
    ids = [r["id"] for r in _run_job(zendesk_server, "POST", "/api/v2/tickets/create_many.json",
                                     {"tickets": [{"subject": "t", "description": "d"}] * 2})[-1]["results"]]
    with zendesk_server.client() as client:
        ours = client.get("/api/v2/tickets/show_many.json", params={"ids": ",".join(map(str, ids))}).json()
    recorded["tickets"][0]["organization_id"] = None  # the demo admin has no organization; the recorded one had
    same_shape(ours, recorded)


def _run_job(server: ZendeskServer, method: str, path: str, body: Any) -> list[dict[str, Any]]:
    with server.client() as client:
        states = [client.request(method, path, json=body).json()["job_status"]]
        while states[-1]["status"] != "completed" and len(states) < 5:
            states.append(client.get(urlsplit(states[0]["url"]).path).json()["job_status"])
    return states

