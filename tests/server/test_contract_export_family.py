"""Contract tests for the rest of the export family against real recorded responses: cursor pages (replayed
ticket for ticket, cursor for cursor), ticket events, users and organizations pages, job statuses and bulk
responses (same keys, in order, and same JSON types)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.reference import cassette, load_reference
from tests.server.test_contract import load_tickets, recorded_pages, replay, without_host
from tests.shapes import Shape, assert_same_shape, learn
from zendesk_export.testing import ZendeskServer

CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"


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
    assert_same_shape(ours, recorded["body"])


def test_amp_cursor_fixture_has_our_shape(zendesk_server: ZendeskServer) -> None:
    """A ticket with every optional field set has the shape of the Dec-2024 cursor page's ticket."""
    real = load_reference("fixtures/amp-labs/read_incremental_tickets.json")
    with zendesk_server.client() as client:
        client.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "s", "comment": "c", "priority": "normal", "assignee_id": 1, "group_id": 1,
            "tags": ["inquiry"], "custom_fields": [{"id": 360_001, "value": "standard_customer"}]}})
        zendesk_server.admin.advance(61)
        ours = client.get(CURSOR_PATH, params={"start_time": 0}).json()
    real_ticket = {k: v for k, v in real["tickets"][0].items() if k != "encoded_id"}  # Dec-2024 addition
    # satisfaction_rating: null on an account without satisfaction ratings, as in the 2023 recordings; ours has
    # none for a ticket made through the API. Key order: the fixture is sanitised (generated_timestamp moved up).
    assert_same_shape(ours, {**real, "tickets": [real_ticket]}, nullable=["satisfaction_rating"], ordered=False)
    assert list(ours) == list(real)


# -- ticket events -----------------------------------------------------------------------------------------
# Create events of fields no recording shows, checked as the recorded Create of another id field.
UNRECORDED_CREATES = {"brand_id": "group_id", "ticket_form_id": "group_id", "custom_status_id": "group_id"}


def test_ticket_events_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    amp = load_reference("fixtures/amp-labs/read_incremental_ticket_events.json")
    embulk = load_reference("fixtures/embulk-input-zendesk/ticket_events_updated_by_system_records.json")
    with zendesk_server.client() as client:
        ticket = client.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "s", "comment": "c", "tags": ["a"], "assignee_id": 1}}).json()["ticket"]
        client.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"priority": "normal"}})
        zendesk_server.admin.advance(61)
        ours = client.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    children = learn(*(c for e in embulk["ticket_events"] for c in e["child_events"]))
    # system.client: the User-Agent of the request that made the change; the recorded event was made by Zendesk
    # itself (a sample ticket), so its client is null. The ticket had no organization and no priority before.
    assert_same_shape({**ours, "ticket_events": [_without_children(e) for e in ours["ticket_events"]]},
                      {**amp, "ticket_events": [_without_children(e) for e in amp["ticket_events"]]},
                      nullable=["system.client"])
    for event in ours["ticket_events"]:
        for child in event["child_events"]:
            assert_same_shape(_as_recorded(child), children, nullable=["organization_id", "previous_value"])
    assert {_child_key(c) for e in ours["ticket_events"] for c in e["child_events"]} >= {
        ("Comment", "comment_present"), ("Create", "subject"), ("Create", "tags"), ("Create", "status"),
        ("Change", "priority")}


def _without_children(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "child_events"}


def _as_recorded(child: dict[str, Any]) -> dict[str, Any]:
    field = _child_key(child)[1]
    stand_in = UNRECORDED_CREATES.get(field)
    return {(stand_in if stand_in and k == field else k): v for k, v in child.items()}


def _child_key(child: dict[str, Any]) -> tuple[str, str]:
    fixed = {"id", "via", "via_reference_id", "event_type", "previous_value", "added_tags", "removed_tags",
             "comment_public"}
    return child["event_type"], next(k for k in child if k not in fixed)


# -- users and organizations ----------------------------------------------------------------------------
# A user without them has null in Zendesk too: no photo, no organization, no custom role or default group, never
# signed in to the agent interface (the demo users and a user made through the API have none of them).
USER_NULLABLE = ["photo", "organization_id", "last_login_at", "custom_role_id", "default_group_id"]


def recorded_users() -> dict[str, Shape]:
    """Recorded users by role: end-users from two users pages, the admin shown by `GET /users/{id}`. An agent
    is an admin without the admin's role type (null for an agent without a custom role, as documented)."""
    pages = [i["response"]["body"] for i in cassette("UsersIncrementalTest.test_get_values")]
    amp = load_reference("fixtures/amp-labs/read_incremental_users-1-first-page.json")
    admin = _recorded_records()["users"]["user"]
    return {"end-user": learn(*(u for page in [*pages, amp] for u in page["users"])), "admin": learn(admin),
            "agent": learn(admin, {**admin, "role_type": None})}


def test_users_pages_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = {urlsplit(i["request"]["uri"]).path: i["response"]["body"]
                for i in cassette("UsersIncrementalTest.test_get_values")}
    by_role = recorded_users()
    with zendesk_server.client() as client:
        client.post("/api/v2/users.json", json={"user": {"name": "End User", "email": "e@example.org"}})
        zendesk_server.admin.advance(61)
        for path, real in recorded.items():
            ours = client.get(path, params={"start_time": 0}).json()
            assert_same_shape({**ours, "users": []}, {**real, "users": []})
            assert sorted(u["role"] for u in ours["users"]) == ["admin", "agent", "end-user"]
            for user in ours["users"]:
                assert_same_shape(user, by_role[user["role"]], nullable=USER_NULLABLE)


def test_organizations_page_has_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    real = load_reference("fixtures/amp-labs/read_incremental_organizations.json")
    zendesk_server.admin.seed(tickets=5)
    with zendesk_server.client() as client:
        ours = client.get("/api/v2/incremental/organizations.json", params={"start_time": 0}).json()
    assert_same_shape(ours, real)


def _recorded_records() -> dict[str, Any]:
    return {urlsplit(i["request"]["uri"]).path.split("/")[3]: i["response"]["body"]
            for i in cassette("TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple")
            if "/users/" in i["request"]["uri"] or "/organizations/" in i["request"]["uri"]}


def test_single_records_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = _recorded_records()
    with zendesk_server.client() as client:
        org = client.post("/api/v2/organizations.json", json={"organization": {"name": "O"}}).json()
        user = client.get("/api/v2/users/1.json").json()
    assert_same_shape(user, recorded["users"], nullable=USER_NULLABLE)
    org["organization"].pop("deleted_at")  # present in exports, absent from the recorded show
    assert_same_shape(org, recorded["organizations"])


# -- bulk and job statuses --------------------------------------------------------------------------------
def job_reads(name: str) -> list[dict[str, Any]]:
    return [i for i in cassette(name) if "job_status" in (i["response"]["body"] or {})]


def test_create_many_job_statuses_have_the_recorded_shapes(zendesk_server: ZendeskServer) -> None:
    recorded = job_reads("TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple")
    states = _run_job(zendesk_server, "POST", "/api/v2/tickets/create_many.json", recorded[0]["request"]["body"])
    assert [s["status"] for s in states] == ["queued", "working", "completed"]
    real = {r["response"]["body"]["job_status"]["status"]: r["response"]["body"] for r in recorded}
    for state in states:
        assert_same_shape({"job_status": state}, real[state["status"]])
    assert states[-1]["total"] == len(states[-1]["results"]) == 100


def test_update_many_results_have_the_recorded_shape(zendesk_server: ZendeskServer) -> None:
    recorded = job_reads("TestTicketCreateUpdateDelete.test_multiple_update_full_objects-update-many")
    created = _run_job(zendesk_server, "POST", "/api/v2/tickets/create_many.json",
                       {"tickets": [{"subject": "t", "description": "d"}] * 3})[-1]["results"]
    body = {"tickets": [{"id": r["id"], "subject": "u", "description": "u"} for r in created]}
    states = _run_job(zendesk_server, "PUT", "/api/v2/tickets/update_many.json", body)
    assert_same_shape({"job_status": states[-1]}, recorded[-1]["response"]["body"])
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
    assert_same_shape(ours, recorded)


def _run_job(server: ZendeskServer, method: str, path: str, body: Any) -> list[dict[str, Any]]:
    with server.client() as client:
        states = [client.request(method, path, json=body).json()["job_status"]]
        while states[-1]["status"] != "completed" and len(states) < 5:
            states.append(client.get(urlsplit(states[0]["url"]).path).json()["job_status"])
    return states

