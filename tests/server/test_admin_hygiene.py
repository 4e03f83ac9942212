"""Admin API hygiene: documented in OpenAPI, closed without its token, unreachable through /api/v2/ auth."""

from __future__ import annotations

import httpx
import pytest

from zendesk_export.server.admin.guard import OPENAPI_PATH
from zendesk_export.server.admin.openapi import AdminRoute
from zendesk_export.server.admin.routes import ADMIN_ROUTES
from zendesk_export.testing import ZendeskServer

ROUTES = [(route.method, route.path) for route in ADMIN_ROUTES]
GUARDED = [(method, path) for method, path in ROUTES if path != OPENAPI_PATH]
DEMO_BASIC = {"Authorization": "Basic YWRtaW5AZXhhbXBsZS5jb20vdG9rZW46ZGVtby10b2tlbg=="}  # admin@…/token:demo-token


def test_openapi_document_is_public_and_lists_every_admin_route(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + OPENAPI_PATH)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == set(ROUTES)
    assert document["paths"][OPENAPI_PATH]["get"]["security"] == []
    assert document["components"]["securitySchemes"]["adminToken"] == {"type": "http", "scheme": "bearer"}


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_every_admin_route_is_documented_by_hand(route: AdminRoute) -> None:
    """A row of the admin table needs a summary, its response and (for a body) its request."""
    assert route.summary and route.response
    if route.method == "PUT":
        assert route.request is not None


def test_admin_paths_are_unique_per_method() -> None:
    assert len(set(ROUTES)) == len(ROUTES)


@pytest.mark.parametrize("method, path", GUARDED)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, DEMO_BASIC])
def test_every_admin_route_refuses_a_request_without_the_admin_token(zendesk_server: ZendeskServer, method: str,
                                                                     path: str, headers: dict[str, str]) -> None:
    response = httpx.request(method, zendesk_server.url + path, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "AdminUnauthorized"


def test_unknown_admin_paths_are_refused_before_routing(zendesk_server: ZendeskServer) -> None:
    assert httpx.get(zendesk_server.url + "/__admin/nothing-here").status_code == 401
    authorised = {"Authorization": f"Bearer {zendesk_server.admin.token}"}
    assert httpx.get(zendesk_server.url + "/__admin/nothing-here", headers=authorised).status_code == 404


@pytest.mark.parametrize("path", ["/api/v2/incremental/tickets.json?start_time=0", "/api/v2/tickets/1.json"])
def test_the_api_never_accepts_the_admin_token(zendesk_server: ZendeskServer, path: str) -> None:
    token = zendesk_server.admin.token
    as_bearer = httpx.get(zendesk_server.url + path, headers={"Authorization": f"Bearer {token}"})
    as_password = httpx.get(zendesk_server.url + path, auth=(zendesk_server.email, token))
    as_api_token = httpx.get(zendesk_server.url + path, auth=(zendesk_server.email + "/token", token))
    assert [as_bearer.status_code, as_password.status_code, as_api_token.status_code] == [401, 401, 401]
