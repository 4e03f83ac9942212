"""Reading a whole stream from a running server the plain way (the tests' truth, independent of the exporter)."""

from __future__ import annotations

from typing import Any

import httpx


def fetch_all(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every object of a list or incremental export: follows `next_page`/`links.next` until `end_of_stream`,
    `meta.has_more` false or no next page."""
    objects: list[dict[str, Any]] = []
    url: str | None = path
    query: dict[str, Any] | None = params
    while url:
        response = client.get(url, params=query)
        response.raise_for_status()
        page = response.json()
        objects += page[key]
        if page.get("end_of_stream") or (page.get("meta") or {}).get("has_more") is False:
            break
        url, query = page.get("next_page") or (page.get("links") or {}).get("next"), None
    return objects


def ticket_events(client: httpx.Client) -> list[dict[str, Any]]:
    """Every ticket event with its comments, as the ticket_events stream asks for them."""
    return fetch_all(client, "/api/v2/incremental/ticket_events.json", "ticket_events", start_time=0,
                     include="comment_events")


def tickets(client: httpx.Client) -> dict[int, dict[str, Any]]:
    """The latest version of every ticket (deleted ones included), by id."""
    found: dict[int, dict[str, Any]] = {}
    for ticket in fetch_all(client, "/api/v2/incremental/tickets.json", "tickets", start_time=0, per_page=1000):
        if ticket["id"] not in found or ticket["generated_timestamp"] >= found[ticket["id"]]["generated_timestamp"]:
            found[ticket["id"]] = ticket
    return found
