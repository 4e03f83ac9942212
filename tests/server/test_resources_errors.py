"""What the declared resources answer to what they cannot do: Zendesk's 404s (an id that names nothing, one beyond
64 bits, a path that is no endpoint, a method a path does not have), 422 for an invalid object, 400 for a body
without its object, 403 for an agent writing admin settings; and one account never sees another's objects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.test_auth import BEE, bee_account  # noqa: F401 (a fixture, used by name)
from zendesk_export.testing import ZendeskServer

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
NO_ENDPOINT = {"error": "InvalidEndpoint", "description": "Not found"}


def call(server: ZendeskServer, method: str, path: str, **options: Any) -> httpx.Response:
    with server.client() as client:
        return client.request(method, path, **options)


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=20, random_seed=1)
    return zendesk_server


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("object_id", ["4", "999999", "9223372036854775807", "9223372036854775808", "1" * 30])
def test_an_id_that_names_nothing_is_record_not_found(seeded: ZendeskServer, method: str, object_id: str) -> None:
    options = {"json": {"brand": {"name": "x"}}} if method == "PUT" else {}
    response = call(seeded, method, f"/api/v2/brands/{object_id}.json", **options)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v2/no_such_things.json"),
    ("GET", "/api/v2/brands/1/nothing"),
    ("PUT", "/api/v2/brands.json"),  # a collection is not updated
    ("DELETE", "/api/v2/custom_roles/1.json"),  # read-only
    ("PUT", "/api/v2/group_memberships/1.json"),  # a membership is replaced, not updated
    ("POST", "/api/v2/tags.json"),
])
def test_no_such_endpoint_is_invalid_endpoint(seeded: ZendeskServer, method: str, path: str) -> None:
    response = call(seeded, method, path, json={})
    assert (response.status_code, response.json()) == (404, NO_ENDPOINT)


def count(server: ZendeskServer, path: str, key: str) -> int:
    return len(call(server, "GET", path).json()[key])


@pytest.mark.parametrize(("body", "details"), [
    ({"ticket_field": {"title": "No type"}}, {"type": [{"description": "Type: cannot be blank",
                                                         "error": "BlankValue"}]}),
    ({"ticket_field": {"type": "wheel", "title": "Bad type"}},
     {"type": [{"description": "Type: is not valid: wheel", "error": "InvalidValue"}]}),
    # Each attribute keeps the JSON type the document gives it (found by the schemathesis run: these were
    # stored as sent, and the object then broke its own schema).
    ({"ticket_field": {"type": "text", "title": "T", "position": "first"}},
     {"position": [{"description": "Position: is invalid", "error": "InvalidValue"}]}),
    ({"ticket_field": {"type": "text", "title": "T", "position": 10**30}},  # a float once parsed
     {"position": [{"description": "Position: is invalid", "error": "InvalidValue"}]}),
    ({"ticket_field": {"type": "text", "title": "T", "active": "yes", "required": 1}},
     {"active": [{"description": "Active: is invalid", "error": "InvalidValue"}],
      "required": [{"description": "Required: is invalid", "error": "InvalidValue"}]}),
    ({"ticket_field": {"type": "text", "title": {"en": "T"}}},
     {"title": [{"description": "Title: is invalid", "error": "InvalidValue"}]}),
])
def test_an_invalid_object_is_refused_and_nothing_is_stored(seeded: ZendeskServer, body: dict[str, Any],
                                                            details: dict[str, Any]) -> None:
    before = count(seeded, "/api/v2/ticket_fields.json", "ticket_fields")
    response = call(seeded, "POST", "/api/v2/ticket_fields.json", json=body)
    assert response.status_code == 422
    assert response.json() == {"error": "RecordInvalid", "description": "Record validation errors",
                               "details": details}
    assert count(seeded, "/api/v2/ticket_fields.json", "ticket_fields") == before


def test_an_update_of_the_wrong_type_changes_nothing_and_a_null_means_not_given(seeded: ZendeskServer) -> None:
    one = "/api/v2/macros/1.json"
    before = call(seeded, "GET", one).json()["macro"]
    refused = call(seeded, "PUT", one, json={"macro": {"title": "Renamed", "active": "no"}})
    assert refused.status_code == 422
    assert call(seeded, "GET", one).json()["macro"] == before
    kept = call(seeded, "PUT", one, json={"macro": {"title": None, "position": None, "description": None}})
    assert kept.status_code == 200
    after = kept.json()["macro"]
    assert (after["title"], after["position"], after["description"]) == (before["title"], before["position"], None)


@pytest.mark.parametrize("body", [{}, {"macro": "title"}, {"macros": [{"title": "x"}]}])
def test_a_body_without_its_object_is_parameter_missing(seeded: ZendeskServer, body: dict[str, Any]) -> None:
    response = call(seeded, "POST", "/api/v2/macros.json", json=body)
    assert (response.status_code, response.json()) == (400, {"error": "ParameterMissing",
                                                              "description": "Parameter macro is required"})


def test_a_body_that_is_not_json_is_refused(seeded: ZendeskServer) -> None:
    response = call(seeded, "PUT", "/api/v2/macros/1.json", content=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidJSON"


def test_an_agent_reads_settings_but_only_an_admin_changes_them(seeded: ZendeskServer) -> None:
    agent = (f"{seeded.agent_email}/token", seeded.agent_token)
    with httpx.Client(base_url=seeded.url, auth=agent) as client:
        assert client.get("/api/v2/ticket_fields.json").status_code == 200
        refused = client.post("/api/v2/ticket_fields.json", json={"ticket_field": {"type": "text", "title": "x"}})
        assert refused.status_code == 403
        assert client.delete("/api/v2/macros/1.json").status_code == 403
    assert call(seeded, "GET", "/api/v2/macros/1.json").status_code == 200


@pytest.mark.usefixtures("bee_account")
def test_an_accounts_objects_are_its_own(seeded: ZendeskServer) -> None:
    bee = {"headers": {"Host": "bee.localhost"}, "auth": ("admin@example.com/token", BEE["api_token"])}
    with httpx.Client(base_url=seeded.url, **bee) as client:  # type: ignore[arg-type]
        assert client.get("/api/v2/brands.json").json()["count"] == 0
        assert client.get("/api/v2/brands/1.json").status_code == 404
        made = client.post("/api/v2/brands.json", json={"brand": {"name": "Bee", "subdomain": "bee"}})
        assert (made.status_code, made.json()["brand"]["id"]) == (201, 1)
    assert call(seeded, "GET", "/api/v2/brands/1.json").json()["brand"]["name"] == "Example Support"
    assert call(seeded, "GET", "/api/v2/brands.json").json()["count"] == 3
