"""How fast does `zendesk-export seed` fill a new database? (Target: 1,000,000 tickets in under 2 minutes.)

Runs the command a user runs, `zendesk-export seed --db … --tickets N`, on a new SQLite file (or a new schema of
a PostgreSQL database) and prints its wall time, tickets per second, the CPU seconds it and its worker process
spent (a seed of 20,000 tickets or more renders its rows in a second process) with the tickets per CPU-second,
the database's size per ticket, and the load average before and after: the CPU figures say what the code
costs, the wall time what a user waits on this machine at that load.

    python bench/bench_seed.py --tickets 100000
    python bench/bench_seed.py --tickets 1000000 --keep /tmp/seed.db
    python bench/bench_seed.py --tickets 100000 --postgres postgresql://postgres@127.0.0.1:5432/test
    python bench/bench_seed.py --tickets 100000 --against ../main/src --rounds 2

With ``--against SRC`` each round runs the command twice, alternating which goes first: once with the package
from ``SRC`` first on ``PYTHONPATH`` ("before", e.g. a checkout of main) and once with this checkout's
("after"), then prints the ratios of their CPU and wall times.
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
from collections.abc import Callable
from pathlib import Path

HERE = str(Path(__file__).resolve().parent.parent / "src")


def seed(db: str, tickets: int, source: str | None = None) -> tuple[float, float]:
    """Run the seed command (with the package from ``source`` if given); returns (wall seconds, CPU seconds of
    the command and its worker)."""
    command = shutil.which("zendesk-export") or "zendesk-export"
    env = {**os.environ, "PYTHONPATH": source} if source else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([command, "seed", "--db", db, "--tickets", str(tickets), "--random-seed", "1"], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(tickets: int, wall: float, cpu: float, size: int | None) -> None:
    per_ticket = f", {size / tickets:5,.0f} bytes per ticket" if size is not None else ""
    print(f"seeded {tickets:,} tickets in {wall:6.1f} s = {tickets / wall:7,.0f} tickets/s; "
          f"CPU {cpu:6.1f} s = {tickets / cpu:6,.0f} tickets per CPU-second{per_ticket}", flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed_sqlite(tickets: int, keep: str | None, source: str | None = None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(keep) if keep else Path(scratch) / "seed.db"
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        wall, cpu = seed(str(path), tickets, source)
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
        report(tickets, wall, cpu, size)
        return wall, cpu


def seed_postgres(tickets: int, url: str, source: str | None = None) -> tuple[float, float]:
    """Into a schema of its own, dropped afterwards."""
    import psycopg

    schema = f"bench_seed_{uuid.uuid4().hex[:8]}"
    joiner = "&" if "?" in url else "?"
    try:
        wall, cpu = seed(f"{url}{joiner}schema={schema}", tickets, source)
        report(tickets, wall, cpu, None)
        return wall, cpu
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--keep", help="SQLite: write the database to this path (replaced if it exists) and keep it")
    parser.add_argument("--postgres", help="seed a new schema of this PostgreSQL database instead of SQLite")
    parser.add_argument("--against", help="a source folder (holding zendesk_export) to compare with, side by side")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: rounds of before and after")
    args = parser.parse_args()
    print(f"before: {load()}, {os.cpu_count()} cores", flush=True)

    def run(source: str | None) -> tuple[float, float]:
        if args.postgres:
            return seed_postgres(args.tickets, args.postgres, source)
        return seed_sqlite(args.tickets, args.keep, source)

    if args.against:
        compare(run, str(Path(args.against).resolve()), args.rounds)
    else:
        run(None)
    print(f"after: {load()}")


def compare(run: Callable[[str | None], tuple[float, float]], against: str, rounds: int) -> None:
    """Rounds of before (``against``) and after (this checkout), alternating which goes first; the ratios of
    the best CPU and wall times."""
    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for number in range(rounds):
        order = [("before", against), ("after", HERE)]
        for name, source in order if number % 2 == 0 else order[::-1]:
            print(f"{name} ({source}), {load()}:", end=" ", flush=True)
            times[name].append(run(source))
    best = {name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in times.items()}
    print(f"after / before: CPU {best['after'][1] / best['before'][1]:.2f}, "
          f"wall {best['after'][0] / best['before'][0]:.2f} (best of {rounds})")


if __name__ == "__main__":
    main()
