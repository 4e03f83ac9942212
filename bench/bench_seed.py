"""How fast does `zendesk-export seed` fill a new database? (Target: 1,000,000 tickets in under 2 minutes.)

Runs the command a user runs, `zendesk-export seed --db … --tickets N`, on a new SQLite file (or a new schema of
a PostgreSQL database) and prints its wall time, tickets per second, the CPU seconds it and its worker process
spent (a seed of 20,000 tickets or more renders its rows in a second process) with the tickets per CPU-second,
the database's size per ticket, and the load average before and after: the CPU figures say what the code
costs, the wall time what a user waits on this machine at that load. A second line splits the CPU between the
two processes (Linux: read from ``/proc`` while the command runs): the drawing process, the writing process
while the drawing process runs (the load), and the writing process after it ended (the index build at the end
of a load into a new SQLite file), with the wall time of that last part. Whichever process used more CPU during
the load set its pace; the part after it runs on one process.

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
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = str(Path(__file__).resolve().parent.parent / "src")


@dataclass
class Run:
    """One seed command: wall and CPU seconds (the command and its worker), and their split when ``/proc`` tells."""

    wall: float
    cpu: float
    split: Split | None = None


@dataclass
class Split:
    drawing: float  # CPU seconds of the drawing process (the worker)
    writing_load: float  # CPU seconds of the writing process until the drawing process ended
    writing_after: float  # CPU seconds of the writing process after that
    after_wall: float  # wall seconds from the drawing process's end to the command's


def seed(db: str, tickets: int, source: str | None = None) -> Run:
    """Run the seed command (with the package from ``source`` if given)."""
    command = shutil.which("zendesk-export") or "zendesk-export"
    env = {**os.environ, "PYTHONPATH": source} if source else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    process = subprocess.Popen([command, "seed", "--db", db, "--tickets", str(tickets), "--random-seed", "1"],
                               stdout=subprocess.DEVNULL, env=env)
    watch = _Watch(process.pid)
    watch.start()
    if process.wait():
        raise subprocess.CalledProcessError(process.returncode, process.args)
    ended = time.perf_counter()
    watch.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(ended - began, cpu, watch.split(cpu, ended))


class _Watch(threading.Thread):
    """Polls ``/proc`` for the command's worker process: its CPU seconds until it ends, and the command's own
    CPU seconds at that moment. Ten polls a second cost next to nothing; the worker's last tenth of a second
    may be missed (it is counted in the writing process's part)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.worker: int | None = None
        self.drawing = self.writing_load = 0.0
        self.drawing_ended: float | None = None

    def run(self) -> None:
        while (writer := _cpu_seconds(self.pid)) is not None:
            self.worker = self.worker or _child(self.pid)
            if self.worker and self.drawing_ended is None:
                drawing = _cpu_seconds(self.worker)
                if drawing is None:  # the worker has ended
                    self.drawing_ended = time.perf_counter()
                else:
                    self.drawing, self.writing_load = drawing, writer
            time.sleep(0.1)

    def split(self, cpu: float, ended: float) -> Split | None:
        if self.drawing_ended is None:  # no worker (a small seed), or no /proc
            return None
        after = cpu - self.drawing - self.writing_load
        return Split(self.drawing, self.writing_load, after, ended - self.drawing_ended)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process, or None once it has ended (or is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _child(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def report(tickets: int, run: Run, size: int | None) -> None:
    per_ticket = f", {size / tickets:5,.0f} bytes per ticket" if size is not None else ""
    print(f"seeded {tickets:,} tickets in {run.wall:6.1f} s = {tickets / run.wall:7,.0f} tickets/s; "
          f"CPU {run.cpu:6.1f} s = {tickets / run.cpu:6,.0f} tickets per CPU-second{per_ticket}", flush=True)
    if split := run.split:
        print(f"  CPU s: drawing process {split.drawing:.1f}, writing process {split.writing_load:.1f} while it "
              f"drew and {split.writing_after:.1f} after, in the last {split.after_wall:.1f} s", flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed_sqlite(tickets: int, keep: str | None, source: str | None = None) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(keep) if keep else Path(scratch) / "seed.db"
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        run = seed(str(path), tickets, source)
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
        report(tickets, run, size)
        return run


def seed_postgres(tickets: int, url: str, source: str | None = None) -> Run:
    """Into a schema of its own, dropped afterwards."""
    import psycopg

    schema = f"bench_seed_{uuid.uuid4().hex[:8]}"
    joiner = "&" if "?" in url else "?"
    try:
        run = seed(f"{url}{joiner}schema={schema}", tickets, source)
        report(tickets, run, None)
        return run
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

    def run(source: str | None) -> Run:
        if args.postgres:
            return seed_postgres(args.tickets, args.postgres, source)
        return seed_sqlite(args.tickets, args.keep, source)

    if args.against:
        compare(run, str(Path(args.against).resolve()), args.rounds)
    else:
        run(None)
    print(f"after: {load()}")


def compare(run: Callable[[str | None], Run], against: str, rounds: int) -> None:
    """Rounds of before (``against``) and after (this checkout), alternating which goes first; the ratios of
    the best CPU and wall times."""
    times: dict[str, list[Run]] = {"before": [], "after": []}
    for number in range(rounds):
        order = [("before", against), ("after", HERE)]
        for name, source in order if number % 2 == 0 else order[::-1]:
            print(f"{name} ({source}), {load()}:", end=" ", flush=True)
            times[name].append(run(source))
    best = {name: (min(r.wall for r in runs), min(r.cpu for r in runs)) for name, runs in times.items()}
    print(f"after / before: CPU {best['after'][1] / best['before'][1]:.2f}, "
          f"wall {best['after'][0] / best['before'][0]:.2f} (best of {rounds})")


if __name__ == "__main__":
    main()
