"""Does a page of 1000 tickets cost the same whatever the account size? (Target: ratio ≈ 1.)

Seeds two databases (small and large), starts a real server on each, and fetches 1000-ticket pages of the
time-based export at start times spread over the whole history, alternating between the two servers so that
machine noise hits both alike. Prints the median milliseconds per page and the large/small ratio.

    python bench/bench_pages.py                     # 10,000 vs 1,000,000 tickets (seeding 1M takes minutes)
    python bench/bench_pages.py --large 200000      # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from zendesk_export.clock import Clock
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.runner import start_server
from zendesk_export.server.store.sqlite import SQLiteStore

AUTH = ("admin@example.com/token", "demo-token")


def build(path: Path, tickets: int) -> list[int]:
    """Seed a database; return 20 start times spread evenly over its tickets' timestamps."""
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, random_seed=1, now=Clock().now())
    rows = store.export_rows(account.id, 0, 2**62, tickets, False)
    store.close()
    step = max(1, len(rows) // 20)
    return [rows[i].generated_timestamp for i in range(0, len(rows) - 1000, step)][:20]


def page_ms(client: httpx.Client, start: int) -> float:
    began = time.perf_counter()
    response = client.get("/api/v2/incremental/tickets.json", params={"start_time": start})
    response.raise_for_status()
    assert response.json()["count"] >= 1000
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {"small": args.small, "large": args.large}
        starts = {name: build(Path(tmp) / f"{name}.db", n) for name, n in sizes.items()}
        servers = {name: start_server(str(Path(tmp) / f"{name}.db"), rate_limit="off") for name in sizes}
        clients = {name: httpx.Client(base_url=s.url, auth=AUTH, timeout=60) for name, s in servers.items()}
        timings: dict[str, list[float]] = {name: [] for name in sizes}
        for _ in range(args.rounds):
            for small_start, large_start in zip(starts["small"], starts["large"], strict=False):
                timings["small"].append(page_ms(clients["small"], small_start))
                timings["large"].append(page_ms(clients["large"], large_start))
        for name in sizes:
            clients[name].close()
            servers[name].stop()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, n in sizes.items():
        print(f"{name:>5}: {n:>9,} tickets  median {medians[name]:6.1f} ms per 1000-ticket page "
              f"({len(timings[name])} pages)")
    print(f"ratio large/small: {medians['large'] / medians['small']:.2f}")


if __name__ == "__main__":
    main()
