"""A bulk call whose items partly fail answers its job (200), never a 500 after committing earlier items: each
failed item is reported in the job's results and nothing is done twice when the client checks and moves on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from zendesk_export.testing import ZendeskServer

BEYOND = 2**63  # one past Zendesk's largest id


def _results(client: httpx.Client, response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text[:300]
    job_id = response.json()["job_status"]["id"]
    for _ in range(3):
        job = client.get(f"/api/v2/job_statuses/{job_id}.json").json()["job_status"]
    assert job["status"] == "completed"
    results: list[dict[str, Any]] = job["results"]
    return results


def _live_ids(client: httpx.Client) -> list[int]:
    response = client.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    return sorted(t["id"] for t in response.json()["tickets"] if t["status"] != "deleted")


def test_create_many_with_an_id_beyond_range_reports_that_item_and_creates_the_others(
        zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze()
    zendesk_server.admin.advance(-120)  # the new tickets must be visible to the export below
    with zendesk_server.client() as client:
        response = client.post("/api/v2/tickets/create_many.json", json={"tickets": [
            {"subject": "a", "comment": "b"}, {"subject": "c", "comment": "d", "group_id": BEYOND},
            {"subject": "e", "comment": "f"}]})
        results = _results(client, response)
        zendesk_server.admin.advance(120)
        assert [r.get("error") for r in results] == [None, "RecordInvalid", None]
        assert results[1]["index"] == 1
        assert _live_ids(client) == sorted([results[0]["id"], results[2]["id"]])


def test_update_many_with_an_id_beyond_range_updates_the_others(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ticket = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "a", "comment": "b"}}).json()
        ticket_id = ticket["ticket"]["id"]
        response = client.put("/api/v2/tickets/update_many.json", json={"tickets": [
            {"id": BEYOND, "subject": "never"}, {"id": ticket_id, "subject": "renamed"}]})
        results = _results(client, response)
        assert [(r["id"], r["status"], r.get("error")) for r in results] == [
            (BEYOND, "Failed", "RecordNotFound"), (ticket_id, "Updated", None)]
        assert client.get(f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]["subject"] == "renamed"


def test_destroy_many_with_an_id_beyond_range_deletes_nothing(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ticket_id = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "a", "comment": "b"}}
                                ).json()["ticket"]["id"]
        response = client.delete("/api/v2/tickets/destroy_many.json", params={"ids": f"{ticket_id},{BEYOND}"})
        assert (response.status_code, response.json()) == (404, {"error": "RecordNotFound", "description": "Not found"})
        assert client.get(f"/api/v2/tickets/{ticket_id}.json").status_code == 200


def test_items_failing_unexpectedly_are_reported_in_the_job_not_as_a_500(tmp_path: Path) -> None:
    """A store that breaks under the items (a table gone) fails each item; the job itself is answered."""
    server = ZendeskServer.start(tmp_path / "zendesk.db")
    try:
        with sqlite3.connect(tmp_path / "zendesk.db") as db:
            db.execute("DROP TABLE audits")
        with server.client() as client:
            response = client.post("/api/v2/tickets/create_many.json", json={"tickets": [
                {"subject": "a", "comment": "b"}, {"subject": "c", "comment": "d"}]})
            results = _results(client, response)
        assert results == [{"index": i, "error": "InternalError", "details": "The server failed to handle this "
                            "request; the error is in the server's log"} for i in (0, 1)]
    finally:
        server.stop()
