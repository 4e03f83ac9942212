"""How close is a ticket export page to the floor? (Targets: time and cursor pages within 3x, include pages
within 5x, a page at N tickets at most 1.5x a page at 10,000.)

Seeds databases (timed: tickets per second and bytes per ticket are printed), starts a real server on each, and
fetches 1000-ticket pages of the time-based export, the cursor export and the time-based export with
``include=users,groups,organizations`` at positions spread over the whole history. The floor is the same
response bytes, recorded from our server, served from memory by a bare Starlette app on uvicorn in the same
process: what HTTP and the client cost with no work at all. Requests alternate between the servers, so machine
noise hits every column alike; the client reads each body without decoding it.

    python bench/bench_floor.py                               # 1,000,000 tickets against 10,000
    python bench/bench_floor.py --large 200000 --rounds 3     # quicker
    python bench/bench_floor.py --keep /tmp/bench             # keep (and on the next run reuse) the databases
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zendesk_export.clock import Clock
from zendesk_export.server.export.cursor import encode_cursor
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.runner import start_server
from zendesk_export.server.store.sqlite import SQLiteStore

AUTH = ("admin@example.com/token", "demo-token")
POSITIONS = 12
TIME = "/api/v2/incremental/tickets.json"
CURSOR = "/api/v2/incremental/tickets/cursor.json"
INCLUDE = "users,groups,organizations"
KINDS = ("time", "cursor", "include")


def seed(path: Path, tickets: int) -> None:
    """Seed a new database and print what it cost: seconds, tickets per second, bytes per ticket."""
    began = time.perf_counter()
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, random_seed=1, now=Clock().now())
    store.close()
    seconds = time.perf_counter() - began
    size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
    print(f"seeded {tickets:>9,} tickets in {seconds:6.1f} s = {tickets / seconds:8,.0f} tickets/s, "
          f"{size / 2**20:7,.0f} MiB = {size / tickets:5,.0f} bytes per ticket", flush=True)


def positions(path: Path) -> list[tuple[int, int]]:
    """(generated_timestamp, id) of tickets spread over the history, each with 1000 tickets after it."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT generated_timestamp, id FROM tickets ORDER BY generated_timestamp, id").fetchall()
    usable = rows[: max(1, len(rows) - 1100)]
    step = max(1, len(usable) // POSITIONS)
    return [(int(r[0]), int(r[1])) for r in usable[::step][:POSITIONS]]


def requests_for(spots: list[tuple[int, int]]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    return {
        "time": [(TIME, {"start_time": str(ts)}) for ts, _ in spots],
        "cursor": [(CURSOR, {"cursor": encode_cursor((ts, ticket_id))}) for ts, ticket_id in spots],
        "include": [(TIME, {"start_time": str(ts), "include": INCLUDE}) for ts, _ in spots],
    }


def floor_app(bodies: dict[str, bytes]) -> Starlette:
    """The floor: each recorded body by its key, from memory, with nothing else done."""
    async def page(request: Request) -> Response:
        return Response(bodies[request.query_params["key"]], media_type="application/json")

    return Starlette(routes=[Route("/page", page)])


@contextmanager
def floor_server(bodies: dict[str, bytes]) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(floor_app(bodies), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()


def timed(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, bytes]:
    began = time.perf_counter()
    response = client.get(path, params=params)
    body = response.read()
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, body


def measure(paths: dict[str, Path], rounds: int) -> dict[tuple[str, str], list[float]]:
    """Median ms per page for (database, kind) and (database, kind + " floor")."""
    wanted = {name: requests_for(positions(path)) for name, path in paths.items()}
    servers = {name: start_server(str(path), rate_limit="off") for name, path in paths.items()}
    ours = {name: httpx.Client(base_url=s.url, auth=AUTH, timeout=120) for name, s in servers.items()}
    try:
        bodies = {f"{name}/{kind}/{i}": timed(ours[name], *request)[1]
                  for name, kinds in wanted.items() for kind, requests in kinds.items()
                  for i, request in enumerate(requests)}
        sizes = {kind: statistics.median(len(b) for k, b in bodies.items() if f"/{kind}/" in k) for kind in KINDS}
        print("median body: " + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in sizes.items()), flush=True)
        timings: dict[tuple[str, str], list[float]] = {}
        with floor_server(bodies) as floor_url, httpx.Client(base_url=floor_url, timeout=120) as floor:
            for _ in range(rounds):
                for name, kinds in wanted.items():
                    for kind, requests in kinds.items():
                        for i, request in enumerate(requests):
                            timings.setdefault((name, kind), []).append(timed(ours[name], *request)[0])
                            key = f"{name}/{kind}/{i}"
                            timings.setdefault((name, kind + " floor"), []).append(
                                timed(floor, "/page", {"key": key})[0])
    finally:
        for name, server in servers.items():
            ours[name].close()
            server.stop()
    return timings


def report(sizes: dict[str, int], timings: dict[tuple[str, str], list[float]]) -> None:
    median = {key: statistics.median(values) for key, values in timings.items()}
    print(f"{'page':>8} {'tickets':>10} {'ours ms':>8} {'floor ms':>9} {'/floor':>7}")
    for kind in KINDS:
        for name, tickets in sizes.items():
            ours, floor = median[(name, kind)], median[(name, kind + " floor")]
            print(f"{kind:>8} {tickets:>10,} {ours:8.1f} {floor:9.1f} {ours / floor:6.1f}x")
    if len(sizes) == 2:
        for kind in KINDS:
            print(f"{kind:>8} large/small: {median[('large', kind)] / median[('small', kind)]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="0: the large database only")
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", help="a directory for the databases, reused when they exist there")
    args = parser.parse_args()
    sizes = {name: n for name, n in (("small", args.small), ("large", args.large)) if n}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        paths = {name: where / f"{name}-{n}.db" for name, n in sizes.items()}
        for name, path in paths.items():
            if not path.exists():
                seed(path, sizes[name])
        report(sizes, measure(paths, args.rounds))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
