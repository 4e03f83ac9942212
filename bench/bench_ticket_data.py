"""Does a page of the ticket data endpoints cost the same whatever the account size? (Target: ratio ≈ 1.)

Seeds a small and a large database, starts a real server on each, and fetches pages of each endpoint at
positions spread over the whole history (cursor pages reached by their own tokens, time-based pages by start
times), alternating between the two servers so that machine noise hits both alike. Prints the median
milliseconds per page per endpoint and the large/small ratio.

    python bench/bench_ticket_data.py                      # 10,000 vs 200,000 tickets
    python bench/bench_ticket_data.py --large 1000000      # slower to seed
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from zendesk_export.clock import Clock
from zendesk_export.server.export.paging import encode_cursor
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.runner import start_server
from zendesk_export.server.store.sqlite import SQLiteStore

AUTH = ("admin@example.com/token", "demo-token")
POSITIONS = 12


def spread(values: list[Any]) -> list[Any]:
    step = max(1, len(values) // POSITIONS)
    return values[::step][:POSITIONS]


def build(path: Path, tickets: int) -> dict[str, list[dict[str, Any]]]:
    """Seed a database; return, per endpoint, the query parameters of pages spread over its history."""
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, random_seed=1, now=Clock().now())
    audits = store.changes(account.id, "audits", (0, 0), 2**62, -1)
    tickets_rows = store.select_page(account.id, "tickets", [("status", "!=", "deleted")], ("created_at", True),
                                     limit=10**9)
    store.close()
    audit_keys = spread([(a.generated_timestamp, a.id) for a in audits])
    ticket_keys = spread([(t["created_at"], t["id"]) for t in tickets_rows])
    return {
        "ticket_audits": [{"page[size]": 100, "page[after]": encode_cursor("created_at,id", k)} for k in audit_keys],
        "ticket_metrics": [{"page[size]": 100, "page[after]": encode_cursor("-created_at,id", k)}
                           for k in ticket_keys],
        "ticket_metric_events": [{"start_time": k[0], "per_page": 1000} for k in audit_keys],
        "tickets/{id}/metrics": [{"id": t[1]} for t in ticket_keys],
        "satisfaction_ratings": [{"page[size]": 100, "start_time": k[0]} for k in ticket_keys],
        "deleted_tickets": [{"page[size]": 100}],
        "search/export": [{"query": "status:open", "filter[type]": "ticket", "page[size]": 100}],
    }


PATHS: dict[str, Callable[[dict[str, Any]], str]] = {
    "ticket_audits": lambda p: "/api/v2/ticket_audits.json",
    "ticket_metrics": lambda p: "/api/v2/ticket_metrics.json",
    "ticket_metric_events": lambda p: "/api/v2/incremental/ticket_metric_events.json",
    "tickets/{id}/metrics": lambda p: f"/api/v2/tickets/{p.pop('id')}/metrics.json",
    "satisfaction_ratings": lambda p: "/api/v2/satisfaction_ratings.json",
    "deleted_tickets": lambda p: "/api/v2/deleted_tickets.json",
    "search/export": lambda p: "/api/v2/search/export.json",
}


def page_ms(client: httpx.Client, name: str, params: dict[str, Any]) -> float:
    params = dict(params)
    path = PATHS[name](params)
    began = time.perf_counter()
    response = client.get(path, params=params)
    response.raise_for_status()
    response.json()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = {"small": args.small, "large": args.large}
    timings: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = {name: build(Path(tmp) / f"{name}.db", n) for name, n in sizes.items()}
        servers = {name: start_server(str(Path(tmp) / f"{name}.db"), rate_limit="off") for name in sizes}
        clients = {name: httpx.Client(base_url=s.url, auth=AUTH, timeout=120) for name, s in servers.items()}
        for _ in range(args.rounds):
            for endpoint in PATHS:
                for small, large in zip(pages["small"][endpoint], pages["large"][endpoint], strict=False):
                    for name, params in (("small", small), ("large", large)):
                        timings.setdefault((endpoint, name), []).append(page_ms(clients[name], endpoint, params))
        for name in sizes:
            clients[name].close()
            servers[name].stop()
    print(f"{'endpoint':<22} {args.small:>9,} tickets {args.large:>9,} tickets   ratio")
    for endpoint in PATHS:
        small, large = (statistics.median(timings[(endpoint, n)]) for n in sizes)
        print(f"{endpoint:<22} {small:>12.1f} ms {large:>12.1f} ms   {large / small:5.2f}")


if __name__ == "__main__":
    main()
