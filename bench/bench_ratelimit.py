"""How much of Zendesk's export rate limit does the exporter use when every page is slow? (Target: at least 95% of
the ceiling at 1.5 s per page, above 90% at 8 s, zero 429.)

One seeded server in its own process with Zendesk's rate limits on (10 incremental-export requests a minute, so
the ceiling is 10,000 tickets a minute with 1000-ticket pages), every export page delayed by a latency fault
(the admin faults API). For each latency, ``zendesk-export export`` (every stream, the command's default: the
reference lists spend the account's bucket beside the exports) runs for a fixed wall time into a new SQLite
output, once one request at a time (``--concurrency 1``, the sequential walk) and once with the automatic
concurrency (windows walked side by side under one pacer), each run starting at the top of a minute of the
server's clock with a fresh bucket and killed half a second before the last of its minutes ends (SIGKILL: what
was committed is what counts), so that it spans exactly ``--minutes`` of Zendesk's windows. Printed per run:
tickets committed per minute against the ceiling, export requests the server answered against the requests the
limit allowed in that time, and the 429s.

    python bench/bench_ratelimit.py --minutes 5 --concurrency 1 0 2
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

EMAIL, TOKEN, ADMIN = "admin@example.com", "demo-token", "bench-ratelimit-admin-token"
LIMIT, PAGE = 10, 1000  # Zendesk's export requests a minute; tickets a page
START, STOP = 0.2, 0.5  # seconds after the top of a minute a run starts, before the end of one it is killed


def serve(db: Path, tickets: int) -> tuple[subprocess.Popen[str], str]:
    """`zendesk-export serve` in its own process, rate limits on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zendesk_export.cli", "serve", "--db", str(db), "--port", "0", "--seed",
         str(tickets), "--rate-limit", "on", "--admin-token", ADMIN], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first.split(" on ", 1)[1].split()[0]


def admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)


def set_latency(url: str, seconds: float) -> None:
    rule = {"match": {"method": "GET", "path": "/api/v2/incremental/*"},
            "action": {"latency_ms": int(seconds * 1000)}, "every": 1}
    with admin(url) as client:
        client.put("/__admin/faults", json=[rule]).raise_for_status()


def wait_for_the_next_minute(url: str) -> None:
    """Sleep to the top of the server's next minute (plus a moment): every run starts with a fresh bucket."""
    with admin(url) as client:
        now = client.get("/__admin/clock").json()["now"]
    time.sleep(60 - now % 60 + START)


def journal(url: str) -> list[dict[str, object]]:
    with admin(url) as client:
        return [entry for entry in client.get("/__admin/requests").json()["requests"]
                if "/api/v2/incremental/" in str(entry.get("path"))]


def clear_journal(url: str) -> None:
    with admin(url) as client:
        client.delete("/__admin/requests").raise_for_status()


def run(url: str, out: Path, concurrency: int, seconds: float) -> None:
    """The export command for ``seconds`` of wall time, then SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zendesk_export.cli", "export", "--url", url, "--email", EMAIL, "--token", TOKEN,
         "--out", str(out), "--concurrency", str(concurrency), "--quiet"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=seconds)
        raise SystemExit(f"the export ended before {seconds:.0f}s: seed more tickets (--tickets)")
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


def committed(out: Path) -> int:
    with sqlite3.connect(out) as db:
        return int(db.execute("SELECT count(*) FROM tickets").fetchone()[0])


def measure(url: str, folder: Path, latency: float, concurrency: int, minutes: int) -> str:
    set_latency(url, latency)
    wait_for_the_next_minute(url)
    clear_journal(url)
    out = folder / f"latency-{latency:g}-concurrency-{concurrency}.db"
    run(url, out, concurrency, minutes * 60 - START - STOP)
    entries = journal(url)
    answered = sum(1 for entry in entries if entry.get("status") == 200)
    refused = sum(1 for entry in entries if entry.get("status") == 429)
    tickets = committed(out)
    per_minute = tickets / minutes
    name = {1: "--concurrency 1 (sequential)", 0: "automatic concurrency"}.get(concurrency,
                                                                          f"--concurrency {concurrency}")
    return (f"latency {latency:>4g} s  {name:<29} {per_minute:>7,.0f} tickets/min = "
            f"{per_minute / (LIMIT * PAGE):6.1%} of the ceiling; {answered:>3} requests answered of "
            f"{LIMIT * minutes} allowed ({answered / (LIMIT * minutes):6.1%}); 429s: {refused}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000, help="seeded tickets (more than a run exports)")
    parser.add_argument("--minutes", type=int, default=5, help="wall time of each run, in whole minutes")
    parser.add_argument("--latency", type=float, nargs="+", default=[1.5, 8.0], help="seconds per export page")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 0],
                        help="--concurrency of each run at each latency (1: sequential, 0: automatic)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, url = serve(Path(tmp) / "server.db", args.tickets)
        try:
            for latency in args.latency:
                for concurrency in args.concurrency:
                    print(measure(url, Path(tmp), latency, concurrency, args.minutes), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
