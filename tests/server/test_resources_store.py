"""The declared resources' storage answers alike in SQLite and PostgreSQL: pages by id in both directions,
counts, creates numbered after the kind's highest id, deletes, tags counted from live tickets, and reset.

PostgreSQL needs ``ZENDESK_EXPORT_TEST_POSTGRES``; skipped otherwise (each test in a schema of its own).
"""

from __future__ import annotations

from typing import Any

from tests.server.test_store_postgres import pg_url, seeded, stores  # noqa: F401  (fixtures and the seeding)
from zendesk_export.server.store import Store


def answers(store: Store) -> dict[str, Any]:
    account = seeded(store)
    pages = {kind: (store.resource_count(account, "records", kind),
                    store.resource_page(account, "records", kind, limit=3),
                    store.resource_page(account, "records", kind, after=2, limit=2),
                    store.resource_page(account, "records", kind, before=4, limit=2),
                    store.resource_page(account, "records", kind, offset=1, limit=2))
             for kind in ("brands", "ticket_fields", "organization_memberships", "macros")}
    people = {table: (store.resource_count(account, table, None),
                      [r["id"] for r in store.resource_page(account, table, None, after=3, limit=4)],
                      [r["id"] for r in store.resource_page(account, table, None, before=5, limit=2)])
              for table in ("users", "organizations", "groups")}
    return {"pages": pages, "people": people, "tags": store.tag_counts(account),
            "some": store.resources_by_id(account, "ticket_fields", [360_002, 1, 999])}


def test_pages_counts_and_tags_are_the_same_in_both_stores(stores: tuple[Store, Store]) -> None:  # noqa: F811
    reference, postgres = stores
    expected = answers(reference)
    assert expected["pages"]["brands"][0] == 3
    assert [f["id"] for f in expected["some"]] == [1, 360_002]
    assert [b["id"] for b in expected["pages"]["brands"][3]] == [2, 3]
    assert answers(postgres) == expected


def test_create_numbers_after_the_highest_id_and_delete_removes(stores: tuple[Store, Store]) -> None:  # noqa: F811
    for store in stores:
        account = seeded(store, tickets=20)
        made = store.create_resource(account, "brands", lambda i: {"id": i, "name": f"B{i}", "created_at_epoch": 5,
                                                                   "updated_at_epoch": 6})
        assert made == {"id": 4, "name": "B4"}
        assert store.delete_resource(account, "brands", 4) is True
        assert store.delete_resource(account, "brands", 4) is False
        store.reset(account)
        assert store.resource_count(account, "records", "brands") == 0
