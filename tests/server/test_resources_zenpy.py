"""zenpy, unmodified (only its base URL points at the server), reads the account's reference resources through its
own API objects, in both of its paginations, and finds exactly what the server holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.test_resources_contract import seeded_session
from zendesk_export.testing import ZendeskServer

pytest.importorskip("zenpy", reason="zenpy could not be installed into its own virtualenv (offline?)")
from zenpy import Zenpy  # noqa: E402
from zenpy.lib.api_objects import Brand, TicketField  # noqa: E402


@pytest.fixture(scope="module")
def seeded(zendesk_server_session: ZendeskServer) -> Iterator[ZendeskServer]:
    yield from seeded_session(zendesk_server_session, 300, 21)


@pytest.fixture
def zenpy(seeded: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> Zenpy:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", seeded.url.removeprefix("http://"))
    return Zenpy(subdomain="example", email=seeded.email, token=seeded.token)


def server_ids(server: ZendeskServer, path: str, key: str) -> list[int]:
    """Every id of a list, as the server's own offset pages give them."""
    ids: list[int] = []
    url: str | None = path
    with server.client() as client:
        while url:
            body = client.get(url).json()
            ids += [item["id"] for item in body[key]]
            url = body["next_page"]
    return ids


# (zenpy API, path, data key)
LISTS = [
    ("brands", "/api/v2/brands.json", "brands"),
    ("ticket_fields", "/api/v2/ticket_fields.json", "ticket_fields"),
    ("ticket_forms", "/api/v2/ticket_forms.json", "ticket_forms"),
    ("group_memberships", "/api/v2/group_memberships.json", "group_memberships"),
    ("organization_memberships", "/api/v2/organization_memberships.json", "organization_memberships"),
    ("macros", "/api/v2/macros.json", "macros"),
    ("triggers", "/api/v2/triggers.json", "triggers"),
    ("automations", "/api/v2/automations.json", "automations"),
    ("views", "/api/v2/views.json", "views"),
    ("user_fields", "/api/v2/user_fields.json", "user_fields"),
    ("organization_fields", "/api/v2/organization_fields.json", "organization_fields"),
    ("sla_policies", "/api/v2/slas/policies.json", "sla_policies"),
    ("targets", "/api/v2/targets.json", "targets"),
    ("recipient_addresses", "/api/v2/recipient_addresses.json", "recipient_addresses"),
    ("sharing_agreements", "/api/v2/sharing_agreements.json", "sharing_agreements"),
    ("dynamic_content", "/api/v2/dynamic_content/items.json", "items"),
    ("activities", "/api/v2/activities.json", "activities"),
    ("suspended_tickets", "/api/v2/suspended_tickets.json", "suspended_tickets"),
    ("users", "/api/v2/users.json", "users"),
    ("groups", "/api/v2/groups.json", "groups"),
    ("organizations", "/api/v2/organizations.json", "organizations"),
]


@pytest.mark.parametrize(("api", "path", "key"), LISTS, ids=[row[0] for row in LISTS])
def test_zenpy_lists_every_object(zenpy: Zenpy, seeded: ZendeskServer, api: str, path: str, key: str) -> None:
    listed = [obj.id for obj in getattr(zenpy, api)()]
    assert listed == server_ids(seeded, path, key)


@pytest.mark.parametrize("api", ["users", "organizations", "group_memberships", "macros"])
def test_zenpy_cursor_pagination_walks_every_page(zenpy: Zenpy, seeded: ZendeskServer, api: str) -> None:
    """zenpy's cursor paging (`page[size]`, `links.next`, `meta.has_more`) over pages of 3."""
    row = next(r for r in LISTS if r[0] == api)
    listed = [obj.id for obj in getattr(zenpy, api)(cursor_pagination=3)]
    assert listed == server_ids(seeded, row[1], row[2])


def test_zenpy_reads_tags_most_used_first(zenpy: Zenpy, seeded: ZendeskServer) -> None:
    tags = [(t.name, t.count) for t in zenpy.tags()]
    with seeded.client() as client:
        expected = [(t["name"], t["count"]) for t in client.get("/api/v2/tags.json").json()["tags"]]
    assert tags == expected
    assert [count for _, count in tags] == sorted((count for _, count in tags), reverse=True)


def test_zenpy_follows_a_tickets_brand(zenpy: Zenpy) -> None:
    """Seeded tickets point at brand 1; zenpy's `ticket.brand` loads it."""
    ticket = next(iter(zenpy.tickets.incremental(start_time=0)))
    brand: Any = ticket.brand
    assert isinstance(brand, Brand)
    assert (brand.id, brand.name, brand.default) == (1, "Example Support", True)


def test_zenpy_sees_custom_fields_of_every_type(zenpy: Zenpy) -> None:
    fields = [f for f in zenpy.ticket_fields() if isinstance(f, TicketField)]
    assert {f.type for f in fields} >= {"text", "textarea", "checkbox", "date", "integer", "decimal", "regexp",
                                        "partialcreditcard", "tagger", "multiselect", "lookup"}
    plan = zenpy.ticket_fields(id=360_002)
    assert [o.value for o in plan.custom_field_options] == ["tier_free", "tier_pro", "tier_enterprise"]


def test_zenpy_creates_updates_and_deletes_a_ticket_field(zenpy: Zenpy) -> None:
    created = zenpy.ticket_fields.create(TicketField(type="text", title="Invoice"))
    assert (created.title, created.raw_title, created.removable) == ("Invoice", "Invoice", True)
    created.title = "Invoice number"
    updated = zenpy.ticket_fields.update(created)
    assert updated.title == "Invoice number"
    zenpy.ticket_fields.delete(updated)
    assert created.id not in [f.id for f in zenpy.ticket_fields()]
