"""Does a cursor page of a list endpoint cost the same whatever the list's length? (Target: ratio ≈ 1.)

Seeds two databases (a small and a large account: users and organization memberships grow with the tickets,
up to 5,000), starts a real server on each, walks `GET /api/v2/users` and `/api/v2/organization_memberships`
with `page[size]=100` from the first page to the last following `links.next`, alternating between the two
servers so that machine noise hits both alike. Prints the median milliseconds per page and the large/small ratio,
and the same for offset pages (`page=N`, which Zendesk also answers, count included: O(list), for contrast).

    python bench/bench_resource_pages.py                  # 5,000 vs 50,000 tickets (500 vs 5,000 customers)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from zendesk_export.clock import Clock
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.runner import start_server
from zendesk_export.server.store.sqlite import SQLiteStore

AUTH = ("admin@example.com/token", "demo-token")
LISTS = ("/api/v2/users.json", "/api/v2/organization_memberships.json")


def build(path: Path, tickets: int) -> None:
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, random_seed=1, now=Clock().now())
    store.close()


def timed(client: httpx.Client, url: str, params: dict[str, str | int] | None = None) -> tuple[float, Any]:
    began = time.perf_counter()
    response = client.get(url, params=params) if params else client.get(url)
    response.raise_for_status()
    return (time.perf_counter() - began) * 1000, response.json()


def cursor_walk(client: httpx.Client, path: str) -> list[float]:
    """Every cursor page of a list, first to last: the time of each."""
    took, body = timed(client, path, {"page[size]": 100})
    times = [took]
    while body["meta"]["has_more"]:
        took, body = timed(client, body["links"]["next"])
        times.append(took)
    return times


def offset_walk(client: httpx.Client, path: str) -> list[float]:
    times, page = [], 1
    while True:
        took, body = timed(client, path, {"page": page, "per_page": 100})
        times.append(took)
        if body["next_page"] is None:
            return times
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = {"small": args.small, "large": args.large}
    timings: dict[tuple[str, str], list[float]] = {(s, k): [] for s in sizes for k in ("cursor", "offset")}
    with tempfile.TemporaryDirectory() as tmp:
        for name, n in sizes.items():
            build(Path(tmp) / f"{name}.db", n)
        servers = {name: start_server(str(Path(tmp) / f"{name}.db"), rate_limit="off") for name in sizes}
        clients = {name: httpx.Client(base_url=s.url, auth=AUTH, timeout=60) for name, s in servers.items()}
        for name in sizes:  # warm up: connections, caches, the first query plans
            cursor_walk(clients[name], LISTS[0])
        for _ in range(args.rounds):
            for path in LISTS:
                for name in sizes:
                    timings[(name, "cursor")] += cursor_walk(clients[name], path)
                    timings[(name, "offset")] += offset_walk(clients[name], path)
        for name in sizes:
            clients[name].close()
            servers[name].stop()
    for kind in ("cursor", "offset"):
        medians = {name: statistics.median(timings[(name, kind)]) for name in sizes}
        for name, n in sizes.items():
            print(f"{kind:>6} {name:>5}: {n:>7,} tickets  median {medians[name]:6.2f} ms per 100-item page "
                  f"({len(timings[(name, kind)])} pages)")
        print(f"{kind:>6} ratio large/small: {medians['large'] / medians['small']:.2f}")


if __name__ == "__main__":
    main()
