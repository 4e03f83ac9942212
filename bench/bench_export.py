"""How fast does a whole export run, ours against the client people use today? (Target: many times faster.)

One seeded server in its own process (rate limits off, so only the clients differ), exported side by side
into SQLite by:

- ``zenpy``: zenpy's cursor-based ``tickets.incremental(start_time=0)``, each ticket upserted as JSON into a
  SQLite table, committing per page (zenpy hands out objects one by one; this is how connectors built on it
  store them);
- ``ours time`` / ``ours cursor``: ``zendesk_export.exporter.run_export`` into a SQLite file (typed columns,
  raw JSON, a checkpoint per page).

Each client runs ``--rounds`` times, alternating, and the best run counts. Prints tickets per second and ratios.

    python bench/bench_export.py --tickets 50000
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from zendesk_export.exporter import ExportConfig, run_export

EMAIL, TOKEN = "admin@example.com", "demo-token"


def zenpy_export(url: str, out: Path) -> int:
    """The common connector: zenpy's incremental iterator, one SQLite upsert per ticket, a commit per page."""
    from zenpy import Zenpy

    netloc = urlsplit(url).netloc
    os.environ["ZENPY_FORCE_SCHEME"], os.environ["ZENPY_FORCE_NETLOC"] = "http", netloc
    client = Zenpy(subdomain="example", email=EMAIL, token=TOKEN)
    db = sqlite3.connect(out)
    db.execute("CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, raw_json TEXT)")
    count = 0
    for ticket in client.tickets.incremental(start_time=0):
        db.execute("INSERT OR REPLACE INTO tickets VALUES (?, ?)", (ticket.id, json.dumps(ticket.to_dict())))
        count += 1
        if count % 1000 == 0:
            db.commit()
    db.commit()
    db.close()
    return count


def ours(mode: str) -> Callable[[str, Path], int]:
    def export(url: str, out: Path) -> int:
        summary = run_export(ExportConfig(url=url, email=EMAIL, token=TOKEN, mode=mode), str(out))
        return summary.new + summary.updated + summary.deleted

    return export


def serve(db: Path, tickets: int) -> tuple[subprocess.Popen[str], str]:
    """`zendesk-export serve` in a separate process, so the server does not share the exporter's GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zendesk_export.cli", "serve", "--db", str(db), "--port", "0", "--seed",
         str(tickets), "--rate-limit", "off", "--admin-token", "bench"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    url = first.split(" on ", 1)[1].split()[0]
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    contenders = {"zenpy": zenpy_export, "ours time": ours("time"), "ours cursor": ours("cursor")}
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server, url = serve(Path(tmp) / "server.db", args.tickets)
        try:
            for round_number in range(args.rounds):
                for name, export in contenders.items():
                    out = Path(tmp) / f"{name.replace(' ', '-')}-{round_number}.db"
                    began = time.perf_counter()
                    counts[name] = export(url, out)
                    best[name] = min(best.get(name, float("inf")), time.perf_counter() - began)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name, seconds in best.items():
        print(f"{name:>12}: {counts[name]:>8,} tickets in {seconds:6.2f} s = {counts[name] / seconds:>9,.0f} tickets/s")
    base = counts["zenpy"] / best["zenpy"]
    for name in ("ours time", "ours cursor"):
        print(f"{name} / zenpy: {counts[name] / best[name] / base:.1f}x")


if __name__ == "__main__":
    main()
