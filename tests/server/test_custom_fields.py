"""Tickets' custom field values obey their ticket field's type, in seeded tickets and through the Tickets API, and
drop-down, multi-select and checkbox values put their tags on the ticket as Zendesk does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.server.model.custom_fields import typed_value
from zendesk_export.testing import ZendeskServer

TEXT, PLAN, VIP, STEPS, RENEWAL, SEATS, TOTAL, SERIAL, CARD, PRODUCTS, MANAGER = range(360_001, 360_012)
PLAN_TAGS = {"tier_free", "tier_pro", "tier_enterprise"}
PRODUCT_TAGS = {"product_web", "product_mobile", "product_api"}


@pytest.fixture
def seeded(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=60, random_seed=4)
    return zendesk_server


def _fields(server: ZendeskServer) -> dict[int, dict[str, Any]]:
    with server.client() as client:
        return {f["id"]: f for f in client.get("/api/v2/ticket_fields.json").json()["ticket_fields"]}


def _create(client: httpx.Client, custom_fields: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return client.post("/api/v2/tickets.json", json={"ticket": {"subject": "Typed", "comment": {"body": "b"},
                                                                "custom_fields": custom_fields, **extra}})


def test_seeded_tickets_hold_every_custom_field_with_a_value_of_its_type(seeded: ZendeskServer) -> None:
    fields = _fields(seeded)
    with seeded.client() as client:
        tickets = client.get("/api/v2/tickets.json", params={"per_page": 60}).json()["tickets"]
    custom = sorted(i for i, f in fields.items() if i >= 360_000)
    seen_types = set()
    for ticket in tickets:
        assert [f["id"] for f in ticket["custom_fields"]] == custom
        for item in ticket["custom_fields"]:
            field = fields[item["id"]]
            assert typed_value(field, item["value"]) == item["value"], (field["type"], item["value"])
            if item["value"] not in (None, False):
                seen_types.add(field["type"])
        values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
        assert (values[PLAN] in ticket["tags"]) if values[PLAN] else not PLAN_TAGS & set(ticket["tags"])
        assert set(values[PRODUCTS] or ()) == PRODUCT_TAGS & set(ticket["tags"])
        assert ("vip_customer" in ticket["tags"]) == values[VIP]
    assert seen_types == {f["type"] for i, f in fields.items() if i >= 360_000}


@pytest.mark.parametrize(("field_id", "sent", "shown"), [
    (TEXT, "A-1", "A-1"), (VIP, True, True), (VIP, None, False), (RENEWAL, "2026-03-04", "2026-03-04"),
    (RENEWAL, "2026-03-04T10:00:00Z", "2026-03-04"), (SEATS, 12, "12"), (SEATS, "0012", "12"),
    (TOTAL, 12.5, "12.5"), (TOTAL, "99.90", "99.90"), (TOTAL, 3, "3"), (SERIAL, "ABC-123456", "ABC-123456"),
    (CARD, "4111 1111 1111 1234", "XXXXXXXXXXXX1234"), (PLAN, "tier_pro", "tier_pro"), (PLAN, "", None),
    (PRODUCTS, ["product_api", "product_web"], ["product_api", "product_web"]), (PRODUCTS, "product_api",
                                                                                  ["product_api"]),
    (MANAGER, 1, 1), (MANAGER, "1", 1), (STEPS, None, None),
])
def test_a_value_sent_is_shown_as_its_field_types_value(seeded: ZendeskServer, field_id: int, sent: Any,
                                                        shown: Any) -> None:
    with seeded.client() as client:
        created = _create(client, [{"id": field_id, "value": sent}])
        assert created.status_code == 201, created.text
        ticket = client.get(f"/api/v2/tickets/{created.json()['ticket']['id']}.json").json()["ticket"]
    assert {"id": field_id, "value": shown} in ticket["custom_fields"]
    assert ticket["fields"] == ticket["custom_fields"]


@pytest.mark.parametrize(("field_id", "sent", "kind"), [
    (VIP, "yes", "FieldCheckbox"), (RENEWAL, "04/03/2026", "FieldDate"), (RENEWAL, "2026-02-30", "FieldDate"),
    (SEATS, "twelve", "FieldInteger"), (SEATS, 1.5, "FieldInteger"), (TOTAL, "NaN", "FieldDecimal"),
    (TOTAL, True, "FieldDecimal"), (SERIAL, "abc", "FieldRegexp"), (CARD, "12", "FieldPartialCreditCard"),
    (PLAN, "tier_gold", "FieldTagger"), (PLAN, ["tier_pro"], "FieldTagger"),
    (PRODUCTS, ["product_api", "nope"], "FieldMultiselect"), (MANAGER, "someone", "FieldLookup"),
    (TEXT, {"a": 1}, "FieldText"),
])
def test_a_value_its_field_cannot_hold_is_zendesks_422_and_nothing_is_written(
        seeded: ZendeskServer, field_id: int, sent: Any, kind: str) -> None:
    title = _fields(seeded)[field_id]["title"]
    with seeded.client() as client:
        before = client.get("/api/v2/tickets/count.json").json()["count"]["value"]
        response = _create(client, [{"id": field_id, "value": sent}])
        updated = client.put("/api/v2/tickets/1.json", json={"ticket": {"custom_fields": [
            {"id": field_id, "value": sent}]}})
        after = client.get("/api/v2/tickets/count.json").json()["count"]["value"]
    expected = {"error": "RecordInvalid", "description": "Record validation errors", "details": {"base": [
        {"description": f"{title}: is invalid", "error": "InvalidValue", "ticket_field_id": field_id,
         "ticket_field_type": kind}]}}
    assert (response.status_code, response.json()) == (422, expected)
    assert (updated.status_code, updated.json()) == (422, expected)
    assert after == before


def test_drop_down_multi_select_and_checkbox_values_move_the_tickets_tags(seeded: ZendeskServer) -> None:
    """Setting a value adds its option's tag; changing it takes the old tag off; other tags stay."""
    with seeded.client() as client:
        created = _create(client, [{"id": PLAN, "value": "tier_free"}, {"id": VIP, "value": True},
                                   {"id": PRODUCTS, "value": ["product_web"]}], tags=["billing"])
        ticket_id = created.json()["ticket"]["id"]
        assert created.json()["ticket"]["tags"] == ["billing", "tier_free", "vip_customer", "product_web"]

        def update(custom_fields: list[dict[str, Any]]) -> list[str]:
            response = client.put(f"/api/v2/tickets/{ticket_id}.json",
                                  json={"ticket": {"custom_fields": custom_fields}})
            assert response.status_code == 200, response.text
            tags: list[str] = response.json()["ticket"]["tags"]
            return tags

        assert update([{"id": PLAN, "value": "tier_pro"}]) == ["billing", "vip_customer", "product_web",
                                                               "tier_pro"]
        assert update([{"id": VIP, "value": False}, {"id": PRODUCTS, "value": ["product_web", "product_api"]}]) \
            == ["billing", "product_web", "tier_pro", "product_api"]
        assert update([{"id": PLAN, "value": None}, {"id": PRODUCTS, "value": []}]) == ["billing"]
        audits = client.get(f"/api/v2/tickets/{ticket_id}/audits.json").json()["audits"]
    tag_changes = [e for a in audits for e in a["events"] if e.get("field_name") == "tags"]
    assert tag_changes, "each move of the tags is audited"


def test_a_field_id_the_account_does_not_have_keeps_the_value_as_sent(zendesk_server: ZendeskServer) -> None:
    """Without seeding the account has no custom fields: values are stored as sent, as before."""
    with zendesk_server.client() as client:
        created = _create(client, [{"id": 42, "value": {"any": ["thing"]}}])
    assert created.status_code == 201
    assert created.json()["ticket"]["custom_fields"] == [{"id": 42, "value": {"any": ["thing"]}}]
