"""Whatever a client sends to the declared resources, the answer is one of Zendesk's (200/201/204, 400, 404, 422),
never a 500, and a refused write changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.test_resources_oas import CREATES
from zendesk_export.server.resources import RESOURCES
from zendesk_export.testing import ZendeskServer

RECORDS = [r for r in RESOURCES if r.table == "records"]
WRITABLE = [r for r in RECORDS if "create" in r.operations]
PAGE_PARAMS = st.dictionaries(
    st.sampled_from(["page", "per_page", "page[size]", "page[after]", "page[before]", "sort_order"]),
    st.one_of(st.integers(-10**20, 10**20).map(str), st.text(max_size=40),
              st.binary(max_size=30).map(lambda b: __import__("base64").b64encode(b).decode())),
    max_size=3)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**18, 10**18) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                max_size=4), max_leaves=12)
FIELDS = st.dictionaries(st.sampled_from(["title", "name", "type", "key", "status", "actions", "conditions",
                                          "subject", "email", "user_id", "group_id", "id", "position",
                                          "custom_field_options", "comment"]), JSON, max_size=5)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(resource=st.sampled_from(RESOURCES), params=PAGE_PARAMS)
def test_any_page_parameters_get_a_page_or_zendesks_400(zendesk_server: ZendeskServer, resource: Any,
                                                        params: dict[str, str]) -> None:
    with zendesk_server.client() as client:
        response = client.get(resource.base + ".json", params=params)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"] == "InvalidPaginationParameter"


def _count(client: httpx.Client, resource: Any) -> int:
    return int(client.get(resource.base + ".json").json()["count"])


@FUZZ
@given(resource=st.sampled_from(WRITABLE), fields=FIELDS, wrap=st.booleans())
def test_any_create_body_is_stored_whole_or_refused_without_a_trace(zendesk_server: ZendeskServer, resource: Any,
                                                                    fields: dict[str, Any], wrap: bool) -> None:
    body = {resource.singular: fields} if wrap else fields
    with zendesk_server.client() as client:
        before = _count(client, resource)
        response = client.post(resource.base + ".json", json=body)
        assert response.status_code in (resource.created_status, 400, 422), response.text
        created = response.status_code == resource.created_status
        assert _count(client, resource) == before + created
        if created:
            one = f"{resource.base}/{response.json()[resource.singular]['id']}.json"
            assert client.get(one).status_code == 200


@FUZZ
@given(resource=st.sampled_from([r for r in WRITABLE if "update" in r.operations]), fields=FIELDS)
def test_any_update_body_is_applied_or_refused_without_a_trace(zendesk_server: ZendeskServer, resource: Any,
                                                               fields: dict[str, Any]) -> None:
    with zendesk_server.client() as client:
        made = client.post(resource.base + ".json", json={resource.singular: CREATES[resource.name]})
        one = f"{resource.base}/{made.json()[resource.singular]['id']}.json"
        before = client.get(one).json()
        response = client.put(one, json={resource.singular: fields})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert client.get(one).json() == before
