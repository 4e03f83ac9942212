"""What the server's store holds, read directly: the truth an export is compared with."""

from __future__ import annotations

from zendesk_export.server.store import Store, open_store


def store_truth(store: Store, exclude_deleted: bool = False) -> dict[int, int]:
    """id → generated_timestamp of every ticket of the default account."""
    account = store.account(None)
    assert account is not None
    rows = store.export_rows(account.id, 0, 2**62, -1, exclude_deleted)
    return {row.id: row.generated_timestamp for row in rows}


def database_truth(db: str) -> list[tuple[int, int]]:
    """(id, generated_timestamp) of every ticket of the default account of the database ``db``, by id."""
    store = open_store(db)
    try:
        return sorted(store_truth(store).items())
    finally:
        store.close()
