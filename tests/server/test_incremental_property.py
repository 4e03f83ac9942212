"""Property: whatever the history, following `next_page` from `start_time=0` until `end_of_stream` yields every
ticket's latest version at least once, and nothing changed within the last 60 seconds."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zendesk_export.testing import AdminClient, ZendeskServer

operation = st.tuples(st.sampled_from(["create", "create", "update", "delete"]), st.integers(0, 20),
                      st.sampled_from([0, 0, 0, 1, 2, 90]))


def apply(client: httpx.Client, admin: AdminClient, ops: list[tuple[str, int, int]]) -> None:
    ids: list[int] = []
    for kind, pick, step in ops:
        if step:
            admin.advance(step)
        if kind == "create" or not ids:
            response = client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "x"}}})
            ids.append(response.json()["ticket"]["id"])
        elif kind == "update":
            client.put(f"/api/v2/tickets/{ids[pick % len(ids)]}", json={"ticket": {"comment": {"body": "y"}}})
        else:
            client.delete(f"/api/v2/tickets/{ids[pick % len(ids)]}")


def follow(client: httpx.Client, per_page: int, limit: int) -> list[dict]:
    seen, url = [], f"/api/v2/incremental/tickets.json?start_time=0&per_page={per_page}"
    for _ in range(limit):
        response = client.get(url)
        if response.status_code == 422 and response.json()["description"].startswith("Too recent start_time"):
            return seen  # next_page is within the last minute (a full page of one second): nothing more yet
        page = response.json()
        seen += page["tickets"]
        if page["end_of_stream"]:
            return seen
        url = page["next_page"]
    raise AssertionError("the export never reached end_of_stream")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25), per_page=st.integers(1, 6), wait=st.integers(0, 120))
def test_following_next_page_yields_every_latest_version_and_nothing_too_recent(
    server_on_each_store: ZendeskServer, ops: list[tuple[str, int, int]], per_page: int, wait: int
) -> None:
    server, admin = server_on_each_store, server_on_each_store.admin
    admin.reset()
    admin.freeze(1_700_000_000)
    with server.client() as client:
        apply(client, admin, ops)
        now = admin.advance(wait)["now"]
        seen = follow(client, per_page, limit=len(ops) * 3 + 5)
    store = server.running.store
    account = store.account(None)
    assert account is not None
    latest = {r.id: r.generated_timestamp for r in store.export_rows(account.id, 0, 2**62, 10**6, False)}
    exported = {(t["id"], t["generated_timestamp"]) for t in seen}
    assert all(ts <= now - 60 for _, ts in exported)
    assert {(i, ts) for i, ts in latest.items() if ts <= now - 60} <= exported
