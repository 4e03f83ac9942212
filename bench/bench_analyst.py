"""How much do the analyst tables cost per ticket? (Target: far below what fetching a page costs, so that the
derivations never slow an export down.)

Seeds a server (rate limits off), downloads every ticket (1000 a page) and every ticket event with comments,
then times, over the whole download, in this process:

- ``custom columns``: the ticket's custom-field columns (``Enricher``, bound from the server's ticket_fields,
  then ``extract`` of those columns from the enriched ticket, as a sink does);
- ``fixed columns``: for scale, the sinks' ``extract`` of the ticket's fixed columns (work every sink does now);
- ``children``: ``ticket_tags`` and ``ticket_custom_field_values`` rows of each ticket;
- ``history``: ``ticket_field_history`` and ``ticket_comments`` rows of each ticket event;
- ``fetch``: for scale, the time the download of the tickets (of the events) took: server, network, JSON.

The best of ``--rounds`` counts. Printed: objects/s per derivation and its share of its source's fetch time.

    python bench/bench_analyst.py --tickets 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from zendesk_export.exporter.analyst import (
    Enricher,
    comment_rows,
    custom_field_value_rows,
    field_history_rows,
    rebind,
    tag_rows,
)
from zendesk_export.exporter.sinks._columns import TICKET_COLUMNS, extract
from zendesk_export.testing import ZendeskServer


def _walk(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    url: str | None = path
    query: dict[str, Any] | None = {"start_time": 0, **params}
    while url:
        page = client.get(url, params=query).raise_for_status().json()
        objects += page[key]
        url, query = (None if page.get("end_of_stream") else page.get("next_page")), None
    return objects


def _best(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ZendeskServer.start(Path(folder) / "bench.db")
        try:
            server.admin.seed(tickets=args.tickets, random_seed=1)
            server.admin.advance(61)
            with server.client() as client:
                began = time.perf_counter()
                tickets = _walk(client, "/api/v2/incremental/tickets.json", "tickets", per_page=1000)
                fetch = time.perf_counter() - began
                began = time.perf_counter()
                events = _walk(client, "/api/v2/incremental/ticket_events.json", "ticket_events",
                               include="comment_events")
                events_fetch = time.perf_counter() - began
                fields = client.get("/api/v2/ticket_fields.json").raise_for_status().json()["ticket_fields"]
        finally:
            server.stop()
    binding = rebind("tickets", (), fields, [c.name for c in TICKET_COLUMNS])
    enrich, custom = Enricher("tickets", binding.bindings), binding.added

    def typed() -> None:
        for ticket in tickets:
            extract(custom, enrich(ticket))

    def fixed() -> None:
        for ticket in tickets:
            extract(TICKET_COLUMNS, ticket)

    def children() -> None:
        for ticket in tickets:
            tag_rows(ticket)
            custom_field_value_rows(ticket)

    def history() -> None:
        for event in events:
            field_history_rows(event)
            comment_rows(event)

    print(f"{len(tickets)} tickets ({len(custom)} custom columns): fetched in {fetch:.2f} s "
          f"({len(tickets) / fetch:,.0f}/s); {len(events)} ticket events: fetched in {events_fetch:.2f} s "
          f"({len(events) / events_fetch:,.0f}/s)")
    for name, work, count, unit, source in (("custom columns", typed, len(tickets), "tickets", fetch),
                                            ("fixed columns", fixed, len(tickets), "tickets", fetch),
                                            ("children", children, len(tickets), "tickets", fetch),
                                            ("history", history, len(events), "events", events_fetch)):
        seconds = _best(args.rounds, work)
        print(f"{name:14} {count / seconds:>12,.0f} {unit}/s   {seconds:6.3f} s = {seconds / source:6.1%} "
              f"of fetching the {unit}")


if __name__ == "__main__":
    main()
