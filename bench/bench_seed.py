"""How fast does `zendesk-export seed` fill a new database? (Target: 1,000,000 tickets in under 2 minutes.)

Runs the command a user runs, `zendesk-export seed --db … --tickets N`, on a new SQLite file (or a new schema of
a PostgreSQL database) and prints its wall time, tickets per second, the CPU seconds it and its worker process
spent (a seed of 20,000 tickets or more renders its rows in a second process) with the tickets per CPU-second,
the database's size per ticket, and the load average before and after: the CPU figures say what the code
costs, the wall time what a user waits on this machine at that load.

    python bench/bench_seed.py --tickets 100000
    python bench/bench_seed.py --tickets 1000000 --keep /tmp/seed.db
    python bench/bench_seed.py --tickets 100000 --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def seed(db: str, tickets: int) -> tuple[float, float]:
    """Run the seed command; returns (wall seconds, CPU seconds of the command and its worker)."""
    command = shutil.which("zendesk-export") or "zendesk-export"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([command, "seed", "--db", db, "--tickets", str(tickets), "--random-seed", "1"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(tickets: int, wall: float, cpu: float, size: int | None) -> None:
    per_ticket = f", {size / tickets:5,.0f} bytes per ticket" if size is not None else ""
    print(f"seeded {tickets:,} tickets in {wall:6.1f} s = {tickets / wall:7,.0f} tickets/s; "
          f"CPU {cpu:6.1f} s = {tickets / cpu:6,.0f} tickets per CPU-second{per_ticket}", flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed_sqlite(tickets: int, keep: str | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(keep) if keep else Path(scratch) / "seed.db"
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        wall, cpu = seed(str(path), tickets)
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
        report(tickets, wall, cpu, size)


def seed_postgres(tickets: int, url: str) -> None:
    """Into a schema of its own, dropped afterwards."""
    import psycopg

    schema = f"bench_seed_{uuid.uuid4().hex[:8]}"
    joiner = "&" if "?" in url else "?"
    try:
        wall, cpu = seed(f"{url}{joiner}schema={schema}", tickets)
        report(tickets, wall, cpu, None)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--keep", help="SQLite: write the database to this path (replaced if it exists) and keep it")
    parser.add_argument("--postgres", help="seed a new schema of this PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    print(f"before: {load()}, {os.cpu_count()} cores", flush=True)
    if args.postgres:
        seed_postgres(args.tickets, args.postgres)
    else:
        seed_sqlite(args.tickets, args.keep)
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
