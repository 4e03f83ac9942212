"""Every error body in the reference, pinned: status, headers and exact JSON, through a real HTTP client."""

from __future__ import annotations

import httpx
import pytest

from tests.reference import load_reference
from tests.shapes import assert_same_shape
from zendesk_export.testing import ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"


def test_wrong_credentials_get_401_couldnt_authenticate(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         auth=(f"{zendesk_server.email}/token", "wrong"))
    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}
    assert response.headers["www-authenticate"] == 'Basic realm="Web Password"'


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic !!!"}, {"Authorization": "Digest x"}])
def test_missing_or_garbled_authorization_gets_401(zendesk_server: ZendeskServer, headers: dict[str, str]) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0}, headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "Couldn't authenticate you"})


def test_unknown_oauth_token_gets_invalid_token_401(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "expired, revoked, malformed" in response.json()["error_description"]


def test_agent_on_export_gets_the_nested_403_body(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         auth=(f"{zendesk_server.agent_email}/token", zendesk_server.agent_token))
    assert response.status_code == 403
    assert response.json() == load_reference("fixtures/amp-labs/forbidden.json")


def test_unknown_account_gets_no_help_desk_404(zendesk_server: ZendeskServer) -> None:
    """`Host: example.…` names the demo account; any other subdomain is Zendesk's 'No help desk' 404."""
    response = httpx.get(zendesk_server.url + "/api/v2/tickets/1.json", headers={"Host": "nosuch.localhost"},
                         auth=zendesk_server.auth)
    assert response.status_code == 404
    expected = load_reference("fixtures/aaronellington-zendesk-go/show_404_wrong_subdomain.json")
    assert response.json() == {"error": {**expected["error"], "title": "No help desk at nosuch.zendesk.com"}}


def test_account_is_chosen_by_subdomain(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         headers={"Host": "example.localhost"}, auth=zendesk_server.auth)
    assert response.status_code == 200
    assert response.json()["tickets"] == []


def test_unknown_ticket_gets_record_not_found(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.get("/api/v2/tickets/999999.json")
    assert response.status_code == 404
    assert response.json() == load_reference("fixtures/aaronellington-zendesk-go/show_404.json")


def test_unknown_route_gets_invalid_endpoint(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.get("/api/v2/no_such_thing.json")
    assert response.status_code == 404
    assert response.json() == load_reference("fixtures/amp-labs/resource-not-found.json")


def test_ticket_without_comment_gets_422_record_invalid(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "no body"}})
    assert response.status_code == 422
    body = response.json()
    assert body == {"error": "RecordInvalid", "description": "Record validation errors", "details": {"base": [
        {"description": "Description: cannot be blank", "error": "BlankValue", "ticket_field_id": 1,
         "ticket_field_type": "FieldDescription"}]}}
    recorded = load_reference("fixtures/amp-labs/record-validation.json")
    assert_same_shape({**body, "details": {}}, {**recorded, "details": {}})  # details are named by field
    assert all(set(item) >= {"description", "error"} for items in body["details"].values() for item in items)


def test_missing_start_time_gets_400_parameter_missing(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.get(EXPORT)
    assert response.status_code == 400
    assert response.json() == {"error": "ParameterMissing", "description": "Parameter start_time is required"}
    assert_same_shape(response.json(), load_reference("fixtures/amp-labs/missing-parameter.json"))


@pytest.mark.parametrize("start_time", ["abc", "-5", "nan", "1e400", "12abc"])
def test_malformed_start_time_gets_400_invalid_value(zendesk_server: ZendeskServer, start_time: str) -> None:
    with zendesk_server.client() as client:
        response = client.get(EXPORT, params={"start_time": start_time})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidValue"


def test_too_recent_or_future_start_time_gets_422_too_recent(zendesk_server: ZendeskServer) -> None:
    now = zendesk_server.admin.freeze()["now"]
    with zendesk_server.client() as client:
        for start in (now - 59, now, now + 3600):
            response = client.get(EXPORT, params={"start_time": start})
            assert response.status_code == 422
            assert response.json() == {"error": "InvalidValue",
                                       "description": "Too recent start_time. Use a start_time older than 1 minute"}
        assert client.get(EXPORT, params={"start_time": now - 60}).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"ticket": "x"}', b"{}"])
def test_malformed_ticket_payload_gets_400_never_500(zendesk_server: ZendeskServer, body: bytes) -> None:
    with zendesk_server.client() as client:
        response = client.post("/api/v2/tickets.json", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "description"}


def test_admin_token_is_not_a_zendesk_credential(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         headers={"Authorization": f"Bearer {zendesk_server.running.admin_token}"})
    assert response.status_code == 401


def test_an_iso_date_start_time_is_answered_as_its_leading_digits(zendesk_server: ZendeskServer) -> None:
    """The Singer tap checks its access with `start_time=<ISO date>` and expects a page: read as 2024 (Ruby's
    to_i), so the page starts at the beginning of the history."""
    zendesk_server.admin.seed(tickets=3)
    zendesk_server.admin.advance(61)
    with zendesk_server.client() as client:
        iso = client.get(EXPORT, params={"start_time": "2024-05-01T00:00:00Z"})
        epoch = client.get(EXPORT, params={"start_time": "2024"})
    assert iso.status_code == 200
    assert iso.json()["count"] == epoch.json()["count"] == 3
