"""Bulk ticket endpoints and job statuses: create_many, update_many (both forms), destroy_many, show_many."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zendesk_export.testing import ZendeskServer

MANY = "/api/v2/tickets/{}.json"


def job_until_done(client: httpx.Client, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's successive states, polled until completed (at most 5 reads)."""
    states = [job]
    for _ in range(5):
        if states[-1]["status"] == "completed":
            break
        states.append(client.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"])
    return states


def create_many(client: httpx.Client, count: int) -> list[int]:
    job = client.post(MANY.format("create_many"), json={"tickets": [
        {"subject": f"s{i}", "comment": {"body": "b"}} for i in range(count)]}).json()["job_status"]
    return [r["id"] for r in job_until_done(client, job)[-1]["results"]]


def test_job_goes_queued_working_completed_on_successive_reads(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.post(MANY.format("create_many"), json={"tickets": [
            {"subject": "a", "comment": "b"} for _ in range(10)]})
        assert response.status_code == 200
        states = job_until_done(client, response.json()["job_status"])
    assert [s["status"] for s in states] == ["queued", "working", "completed"]
    assert [s["progress"] for s in states] == [None, 5, 10]
    assert states[1]["message"] == "Creating ticket #5"
    assert states[2]["message"].startswith("Completed at ")
    assert [r["index"] for r in states[2]["results"]] == list(range(10))
    assert states[0]["url"] == f"{zendesk_server.url}/api/v2/job_statuses/{states[0]['id']}.json"


def test_created_tickets_exist_as_soon_as_the_job_is_submitted(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        client.post(MANY.format("create_many"), json={"tickets": [{"subject": "a", "comment": "b"}]})
        zendesk_server.admin.advance(61)
        exported = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()
    assert exported["count"] == 1


def test_an_invalid_item_fails_alone_and_is_reported_in_results(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        job = client.post(MANY.format("create_many"), json={"tickets": [
            {"subject": "ok", "comment": "b"}, {"subject": "no comment"}, {"subject": "ok", "comment": "c"}]}).json()
        results = job_until_done(client, job["job_status"])[-1]["results"]
    assert [("id" in r, r.get("error")) for r in results] == [(True, None), (False, "RecordInvalid"), (True, None)]


@pytest.mark.parametrize(("method", "path", "body", "params"), [
    ("POST", "create_many", {"tickets": [{"subject": "x", "comment": "y"}] * 101}, {}),
    ("PUT", "update_many", {"tickets": [{"id": i, "status": "open"} for i in range(1, 102)]}, {}),
    ("PUT", "update_many", {"ticket": {"status": "open"}}, {"ids": ",".join(map(str, range(1, 102)))}),
    ("DELETE", "destroy_many", None, {"ids": ",".join(map(str, range(1, 102)))}),
    ("GET", "show_many", None, {"ids": ",".join(map(str, range(1, 102)))}),
])
def test_more_than_100_is_the_recorded_too_many_values_400(zendesk_server: ZendeskServer, method: str, path: str,
                                                           body: Any, params: dict[str, str]) -> None:
    with zendesk_server.client() as client:
        response = client.request(method, MANY.format(path), json=body, params=params)
    assert response.status_code == 400
    assert response.json() == {"error": "TooManyValues",
                               "description": "Parameter  cannot specify more than 100 values", "max_count": 100}


def test_update_many_with_ids_applies_one_change_to_each(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ids = create_many(client, 3)
        job = client.put(MANY.format("update_many"), params={"ids": ",".join(map(str, ids))},
                         json={"ticket": {"priority": "urgent"}}).json()["job_status"]
        results = job_until_done(client, job)[-1]["results"]
        shown = client.get(MANY.format("show_many"), params={"ids": ",".join(map(str, ids))}).json()
    assert results == [{"action": "update", "status": "Updated", "success": True, "id": i} for i in ids]
    assert {t["priority"] for t in shown["tickets"]} == {"urgent"}


def test_update_many_with_tickets_applies_each_its_own_change(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ids = create_many(client, 2)
        job = client.put(MANY.format("update_many"), json={"tickets": [
            {"id": ids[0], "subject": "first"}, {"id": ids[1], "subject": "second"}, {"id": 999, "subject": "x"}]})
        results = job_until_done(client, job.json()["job_status"])[-1]["results"]
        shown = client.get(MANY.format("show_many"), params={"ids": f"{ids[0]},{ids[1]}"}).json()
    assert [t["subject"] for t in shown["tickets"]] == ["first", "second"]
    assert results[2] == {"action": "update", "status": "Failed", "success": False, "id": 999,
                          "error": "RecordNotFound", "details": "Not found"}


def test_destroy_many_soft_deletes_and_show_many_leaves_them_out(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ids = create_many(client, 3)
        job = client.delete(MANY.format("destroy_many"), params={"ids": f"{ids[0]},{ids[1]}"}).json()["job_status"]
        results = job_until_done(client, job)[-1]["results"]
        shown = client.get(MANY.format("show_many"), params={"ids": ",".join(map(str, ids))}).json()
        zendesk_server.admin.advance(61)
        exported = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()["tickets"]
    assert [r["status"] for r in results] == ["Deleted", "Deleted"]
    assert [t["id"] for t in shown["tickets"]] == [ids[2]]
    assert {t["id"]: t["status"] for t in exported} == {ids[0]: "deleted", ids[1]: "deleted", ids[2]: "new"}


def test_show_many_keeps_the_order_asked_and_the_list_keys(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        ids = create_many(client, 3)
        body = client.get(MANY.format("show_many"), params={"ids": f"{ids[2]},{ids[0]},424242"}).json()
    assert list(body) == ["tickets", "next_page", "previous_page", "count"]
    assert [t["id"] for t in body["tickets"]] == [ids[2], ids[0]] and body["count"] == 2
    assert "generated_timestamp" not in body["tickets"][0]


@pytest.mark.parametrize(("params", "status"), [({}, 400), ({"ids": "1,x"}, 400)])
def test_bad_ids_are_400(zendesk_server: ZendeskServer, params: dict[str, str], status: int) -> None:
    with zendesk_server.client() as client:
        assert client.delete(MANY.format("destroy_many"), params=params).status_code == status


def test_unknown_job_is_404_record_not_found(zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        response = client.get("/api/v2/job_statuses/V3-nope.json")
    assert (response.status_code, response.json()["error"]) == (404, "RecordNotFound")


def test_bulk_endpoints_need_credentials(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + MANY.format("create_many"), json={"tickets": []})
    assert response.status_code == 401
