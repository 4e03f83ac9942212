"""Load: 16 concurrent clients mix exports, reads and writes against one server; errors, requests/s and p99.

Starts one ``zendesk-export serve`` for each ``--workers`` value, side by side (each on its own copy of the same
seeded SQLite database, or all on the one PostgreSQL database given), and loads them in turn, in slices of
``--slice`` seconds (1, 2, 1, 2, …), until each has had ``--duration`` seconds of clients over loopback: on a
shared machine whose background load changes by the minute, every server meets the same moments. Prints per
request kind the count, median and p99 latency and the errors (any status other than the expected one, any
transport failure), the total requests per second, and its ratio to the first worker count, and the CPU a
request costs the server's processes and the clients (Linux): on a busy machine, throughput says how much CPU
the benchmark was given, CPU per request what the server needs.

    python bench/load.py                               # 16 clients for 60 s against one server process
    python bench/load.py --workers 1,2                 # 60 s each, in alternating 5 s slices
    python bench/load.py --db postgresql://postgres@127.0.0.1/test --workers 1,2
    python bench/load.py --workers 1,2 --reads-only    # exports, tickets and users: no writes
"""

from __future__ import annotations

import argparse
import base64
import http.client
import math
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
from soak import AUTH, CLI, free_port  # bench/ is on the path when a script runs

from zendesk_export.server.store import open_store

KINDS = ("export", "show", "users", "create", "update")
WEIGHTS = (2, 4, 1, 2, 2)
READS_ONLY = (2, 4, 1, 0, 0)  # --reads-only: the same reads, no writes
EXPECTED = {"export": 200, "show": 200, "users": 200, "create": 201, "update": 200}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)
    client_cpu: float = 0.0  # seconds of CPU the load generator spent on this server's slices
    server_cpu: float = 0.0  # seconds of CPU of the server's processes (Linux: read from /proc)

    def record(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if not ok:
                self.errors[kind] += 1

    @property
    def total(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def request(kind: str, rng: random.Random, live: list[int]) -> tuple[str, str, bytes | None]:
    """(method, path with query, JSON body) of one request of ``kind``."""
    ticket_id = rng.choice(live)
    if kind == "export":
        start = rng.randint(0, int(time.time()) - 7 * 86400)
        return "GET", f"/api/v2/incremental/tickets.json?start_time={start}&per_page=100", None
    if kind == "show":
        return "GET", f"/api/v2/tickets/{ticket_id}.json", None
    if kind == "users":
        return "GET", "/api/v2/users.json", None
    if kind == "create":
        return "POST", "/api/v2/tickets.json", orjson.dumps({"ticket": {"subject": "load", "comment": {"body": "x"}}})
    body = orjson.dumps({"ticket": {"priority": rng.choice(["low", "high"])}})
    return "PUT", f"/api/v2/tickets/{ticket_id}.json", body


def client(url: str, seed: int, live: list[int], deadline: float, results: Results,
           weights: tuple[int, ...] = WEIGHTS) -> None:
    """One keep-alive connection sending requests back to back. The standard library's ``http.client`` rather
    than httpx: it costs the client several times less CPU a request, and on two cores every millisecond the
    clients spend is one the server does not get."""
    rng = random.Random(seed)
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port
    headers = {"Authorization": "Basic " + base64.b64encode(":".join(AUTH).encode()).decode(),
               "Content-Type": "application/json"}
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        while time.monotonic() < deadline:
            kind = rng.choices(KINDS, weights)[0]
            method, path, body = request(kind, rng, live)
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == EXPECTED[kind]
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects at the next request
                ok = False
            results.record(kind, time.perf_counter() - began, ok)
    finally:
        connection.close()


def start(db: str, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    command = [*CLI, "serve", "--db", db, "--port", str(port), "--rate-limit", "off", "--quiet",
               f"--admin-token={secrets.token_urlsafe(24)}", "--workers", str(workers)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, server)
    return url, server


def load(url: str, clients: int, seconds: float, live: list[int], results: Results, seed: int,
         weights: tuple[int, ...]) -> None:
    """``clients`` threads, each on its own keep-alive connection, for ``seconds``."""
    deadline, cpu = time.monotonic() + seconds, time.process_time()
    threads = [threading.Thread(target=client, args=(url, seed + n, live, deadline, results, weights))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.client_cpu += time.process_time() - cpu


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc; 0 where there is none."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run(dbs: dict[int, str], clients: int, duration: float, slice_seconds: float, live: list[int],
        weights: tuple[int, ...] = WEIGHTS) -> dict[int, Results]:
    """Every server up at once, loaded in turn a slice at a time, until each had ``duration`` seconds."""
    servers: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for workers, db in dbs.items():
            servers[workers] = start(db, workers)
        results = {workers: Results() for workers in dbs}
        idle = {workers: cpu_seconds(server.pid) for workers, (_, server) in servers.items()}
        slices = max(1, math.ceil(duration / slice_seconds))
        for n in range(slices):
            for workers, (url, _) in servers.items():
                load(url, clients, duration / slices, live, results[workers], n * clients, weights)
        for workers, (_, server) in servers.items():
            results[workers].server_cpu = cpu_seconds(server.pid) - idle[workers]
        return results
    finally:
        for _, server in servers.values():
            server.terminate()
            server.wait(timeout=30)


def updatable_ticket_ids(db: str) -> list[int]:
    """Tickets neither deleted nor closed (Zendesk refuses to update a closed one with 422)."""
    store = open_store(db)
    try:
        account = store.account(None)
        assert account is not None
        rows = store.export_rows(account.id, 0, 2**62, -1, True)
        return [row.id for row in rows if b'"status":"closed"' not in row.body]
    finally:
        store.close()


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        try:
            httpx.get(f"{url}/api/v2/tickets/1.json", auth=AUTH, timeout=2)
            return
        except httpx.TransportError:
            if server.poll() is not None:
                sys.exit(f"load: the server exited with {server.returncode}")
            time.sleep(0.2)
    sys.exit("load: the server did not answer within 120 s")


def report(workers: int, results: Results, duration: float, baseline: float | None) -> float:
    rate = results.total / duration
    ratio = f"  ({rate / baseline:.2f}x the first)" if baseline else ""
    print(f"--workers {workers}: {results.total:,} requests, {rate:,.0f}/s{ratio}, "
          f"{sum(results.errors.values())} errors")
    if results.total:  # what a request costs, whatever else the machine is doing
        print(f"  CPU per request: server {results.server_cpu / results.total * 1000:.2f} ms, "
              f"clients {results.client_cpu / results.total * 1000:.2f} ms "
              f"(server {results.server_cpu / duration:.0%} of a core, clients {results.client_cpu / duration:.0%})")
    for kind in KINDS:
        values = sorted(results.latencies.get(kind, []))
        if values:
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            print(f"  {kind:>7}: {len(values):>7,}  median {statistics.median(values) * 1000:7.1f} ms  "
                  f"p99 {p99 * 1000:7.1f} ms  errors {results.errors.get(kind, 0)}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load for each server (default 60)")
    parser.add_argument("--slice", type=float, default=5, help="seconds of one turn of load (default 5)")
    parser.add_argument("--workers", default="1", help="comma-separated server process counts, e.g. 1,2 (default 1)")
    parser.add_argument("--tickets", type=int, default=20_000, help="tickets seeded first (default 20,000)")
    parser.add_argument("--db", help="postgresql://… to load PostgreSQL; default: SQLite files")
    parser.add_argument("--reads-only", action="store_true", help="exports, tickets and users only: no writes")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        seeded = args.db or str(Path(tmp) / "seeded.db")
        subprocess.run([*CLI, "seed", "--db", seeded, "--tickets", str(args.tickets)], check=True,
                       stdout=subprocess.DEVNULL)
        live = updatable_ticket_ids(seeded)  # so that a 404 or a 422 is an error of the server, not of the mix
        dbs = {n: args.db or str(shutil.copy(seeded, Path(tmp) / f"workers-{n}.db")) for n in counts}
        results = run(dbs, args.clients, args.duration, args.slice, live, READS_ONLY if args.reads_only else WEIGHTS)
    baseline = None
    for workers in counts:
        rate = report(workers, results[workers], args.duration, baseline)
        baseline = baseline or rate
    sys.exit(1 if any(any(r.errors.values()) for r in results.values()) else 0)


if __name__ == "__main__":
    main()
