"""How close does each sink come to the floor, and how far ahead of zenpy? (Targets: every sink at least half
the floor, SQLite at least 10x zenpy, peak RSS under 150 MB.)

One seeded server in its own process (rate limits off), exported in the same run by:

- ``floor``: httpx walks the cursor export and parses every page with orjson; nothing is written. No exporter
  can beat it: it is the network, the server and the JSON decoding alone.
- ``sqlite``, ``jsonl``, ``parquet``, ``postgres``: ``run_export`` in cursor mode into a new output of each
  kind (``postgres`` only with ``--postgres DSN`` or ``ZENDESK_EXPORT_TEST_POSTGRES``; its schema is dropped).
  With ``--analyst`` they write the ticket export's analyst tables too (``export_tickets``: the custom-field
  columns, ``ticket_tags``, ``ticket_custom_field_values``), as ``zendesk-export export --streams tickets`` does.
- ``zenpy``: zenpy's cursor iterator ``tickets.incremental(start_time=0)``, each ticket written as a JSON line. zenpy
  is installed by this script into a virtualenv of its own (``--zenpy-venv``), never into the project's.

Every contender runs in a fresh process (so its peak RSS is its own), ``--rounds`` times, alternating, each of
our sinks right after a floor run of its own; the best time counts (after one untimed floor pass that warms the
server, and with the project's modules compiled to bytecode first, as installing them does). Printed:
tickets/s, ratio to the floor (best against best), ``paired`` (the median over the rounds of each sink's ratio
to the floor run just before it: the machine's speed drifts by up to 2x from one minute to the next, and a pair
shares its moment; the targets read this one), ratio to zenpy, peak RSS (the child's ``ru_maxrss``), how much
of its memory at the end is mapped files (``files``: ``file_backed_mb``) and the child's CPU seconds (user +
system, the import of its modules included), which a busy machine disturbs far less than the wall clock.
Beside them, on Linux, the CPU seconds the API server spent during the same run (``API CPU``) and, for
``postgres``, those of every local PostgreSQL process (``DB CPU``, the database doing the writes; other users
of that database count too): what the three together ask of the machine's cores bounds the ratio a sink can
reach on it.

    python bench/bench_sinks.py --tickets 50000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

EMAIL, TOKEN = "admin@example.com", "demo-token"
CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"
SINK_OUT = {"sqlite": "tickets.db", "jsonl": "tickets.jsonl", "parquet": "tickets.parquet"}
DEFAULT_ZENPY_VENV = Path.home() / ".cache" / "zendesk-export-bench" / "zenpy-venv"

#: zenpy's side, run by the interpreter of its own virtualenv (argv: url, out); prints what ``child`` prints.
ZENPY_SCRIPT = """
import json, os, resource, sys, time
began = time.perf_counter()
from urllib.parse import urlsplit
from zenpy import Zenpy
url, out = sys.argv[1], sys.argv[2]
os.environ["ZENPY_FORCE_SCHEME"], os.environ["ZENPY_FORCE_NETLOC"] = "http", urlsplit(url).netloc
client = Zenpy(subdomain="example", email="admin@example.com", token="demo-token")
count = 0
with open(out, "w") as handle:
    for ticket in client.tickets.incremental(start_time=0):
        handle.write(json.dumps(ticket.to_dict()) + "\\n")
        count += 1
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"tickets": count, "seconds": time.perf_counter() - began, "rss_mb": usage.ru_maxrss / 1024,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


def floor(url: str, out: Path) -> int:
    """Download and parse every page of the cursor export, with the requests the exporter makes; write nothing."""
    import httpx
    import orjson

    count = 0
    with httpx.Client(base_url=url, auth=(f"{EMAIL}/token", TOKEN), timeout=60) as client:
        response = client.get(CURSOR_PATH, params={"start_time": 0, "per_page": 1000})
        while True:
            response.raise_for_status()
            page = orjson.loads(response.content)
            count += len(page["tickets"])
            if page["end_of_stream"]:
                return count
            response = client.get(CURSOR_PATH, params={"cursor": page["after_cursor"], "per_page": 1000})


def ours(url: str, out: str, analyst: bool) -> int:
    from zendesk_export.exporter import ExportConfig, run_export
    from zendesk_export.exporter.engine import export_tickets

    config = ExportConfig(url=url, email=EMAIL, token=TOKEN, mode="cursor", out=out)
    summary = export_tickets(config) if analyst else run_export(config, out)
    return summary.new + summary.updated + summary.deleted


def child(kind: str, url: str, out: str, analyst: bool = False) -> None:
    """One contender in this (fresh) process: prints ``{"tickets", "seconds", "rss_mb"}`` as JSON."""
    began = time.perf_counter()
    count = floor(url, Path(out)) if kind == "floor" else ours(url, out, analyst)
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"tickets": count, "seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "cpu": cpu,
                      "files_mb": file_backed_mb()}))


def file_backed_mb() -> float:
    """How much of this process's resident memory is mapped files (``RssFile``: the interpreter, the extension
    modules, their libraries), read at its end; 0 where ``/proc`` does not say.

    It is part of the peak RSS, and not a constant: a library installed moments ago maps up to twice as many
    pages when it is imported (pyarrow 63.8 MB against 38.4 once the page cache was dropped; the Parquet
    export's peak 150 against 122 MB, docs/benchmarks.md). A peak that moved together with this share moved
    with the page cache, not with the exporter."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    found = [line.split()[1] for line in status.splitlines() if line.startswith("RssFile:")]
    return int(found[0]) / 1024 if found else 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes ``pids`` (and of their waited-for children), 0 where unreadable."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every local PostgreSQL process (the backend serving the sink changes with each connection)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().startswith("postgres"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def run_contender(kind: str, url: str, out: str, zenpy_python: Path | None, analyst: bool = False,
                  server_pid: int = 0) -> dict[str, Any]:
    database = postgres_pids() if kind == "postgres" else []
    api_before, db_before = cpu_seconds([server_pid]), cpu_seconds(database)
    result = _run_child(kind, url, out, zenpy_python, analyst)
    result["api_cpu"] = cpu_seconds([server_pid]) - api_before
    if kind == "postgres":
        result["db_cpu"] = cpu_seconds(postgres_pids()) - db_before
    return result


def _run_child(kind: str, url: str, out: str, zenpy_python: Path | None, analyst: bool) -> dict[str, Any]:
    if kind == "zenpy":
        assert zenpy_python is not None
        command = [str(zenpy_python), "-c", ZENPY_SCRIPT, url, out]
    else:
        command = [sys.executable, __file__, "--child", kind, url, out, *(["--analyst"] if analyst else [])]
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{process.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(process.stdout.splitlines()[-1])
    return result


def compile_package() -> None:
    """Compile the project's modules to bytecode before anything is timed, as installing a package does. An
    editable install run with ``PYTHONDONTWRITEBYTECODE`` set compiles them again in every timed child (its
    imports took 0.39 s instead of 0.25, median of eight pairs), a cost that an installed exporter never pays
    and that the floor does not pay either: httpx and orjson come compiled."""
    import compileall

    import zendesk_export

    compileall.compile_dir(Path(zendesk_export.__file__).parent, quiet=1)


def zenpy_python(venv: Path) -> Path:
    """The interpreter of a virtualenv holding zenpy, created (once) if missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "zenpy"], check=True)
    return python


def serve(db: Path, tickets: int) -> tuple[subprocess.Popen[str], str]:
    """`zendesk-export serve` in a process of its own, so the server never shares the exporter's GIL."""
    command = [sys.executable, "-m", "zendesk_export.cli", "serve", "--db", str(db), "--port", "0", "--seed",
               str(tickets), "--rate-limit", "off", "--admin-token", "bench-admin-token-0123", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first.split(" on ", 1)[1].split()[0]


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def output(kind: str, tmp: Path, round_number: int, postgres: str | None, schema: str) -> str:
    if kind == "postgres":
        assert postgres is not None
        return f"{postgres}{'&' if '?' in postgres else '?'}schema={schema}_{round_number}"
    return str(tmp / f"r{round_number}-{SINK_OUT.get(kind, kind + '.out')}")


def report(best: dict[str, dict[str, Any]], paired: dict[str, list[float]]) -> None:
    base = best["floor"]["tickets"] / best["floor"]["seconds"]
    zenpy = best["zenpy"]["tickets"] / best["zenpy"]["seconds"] if "zenpy" in best else None
    print(f"{'':>9} {'tickets':>8} {'seconds':>8} {'tickets/s':>10} {'/floor':>7} {'paired':>7} {'/zenpy':>7} "
          f"{'peak RSS':>9} {'files':>6} {'CPU s':>6} {'API CPU':>8} {'DB CPU':>7}")
    for kind, run in best.items():
        rate = run["tickets"] / run["seconds"]
        versus = f"{rate / zenpy:6.1f}x" if zenpy else "    n/a"
        pairs = f"{statistics.median(paired[kind]):>7.2f}" if paired.get(kind) else f"{'':>7}"
        database = f"{run['db_cpu']:>7.2f}" if "db_cpu" in run else f"{'':>7}"
        print(f"{kind:>9} {run['tickets']:>8,} {run['seconds']:>8.2f} {rate:>10,.0f} {rate / base:>7.2f} {pairs} "
              f"{versus} {run['rss_mb']:>6.0f} MB {run.get('files_mb', 0):>6.0f} {run['cpu']:>6.2f} "
              f"{run['api_cpu']:>8.2f} {database}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sinks", default="sqlite,jsonl,parquet,postgres", help="comma-separated sinks to run")
    parser.add_argument("--no-zenpy", action="store_true", help="skip zenpy (no virtualenv made)")
    parser.add_argument("--zenpy-venv", type=Path, default=DEFAULT_ZENPY_VENV)
    parser.add_argument("--postgres", default=os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES"))
    parser.add_argument("--analyst", action="store_true",
                        help="our sinks also write the analyst tables (custom-field columns, ticket_tags, "
                             "ticket_custom_field_values), as `zendesk-export export --streams tickets` does")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, analyst=args.analyst)
        return
    compile_package()
    sinks = [s for s in args.sinks.split(",") if s and (s != "postgres" or args.postgres)]
    # each sink right after a floor of its own: the pair shares the machine's moment (``report``'s "paired")
    kinds = [kind for sink in sinks for kind in ("floor", sink)] or ["floor"]
    kinds += [] if args.no_zenpy else ["zenpy"]
    python = None if args.no_zenpy else zenpy_python(args.zenpy_venv)
    schema = f"bench_sinks_{uuid.uuid4().hex[:8]}"
    best: dict[str, dict[str, Any]] = {}
    paired: dict[str, list[float]] = {}
    floor_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        server, url = serve(Path(tmp) / "server.db", args.tickets)
        try:
            run_contender("floor", url, str(Path(tmp) / "warm-up"), None)  # the server's first pass is cold
            for round_number in range(args.rounds):
                for kind in kinds:
                    run = run_contender(kind, url, output(kind, Path(tmp), round_number, args.postgres, schema),
                                        python, args.analyst, server.pid)
                    print(f"round {round_number + 1} {kind}: {run['seconds']:.2f} s", file=sys.stderr)
                    if kind not in best or run["seconds"] < best[kind]["seconds"]:
                        best[kind] = run
                    if kind == "floor":
                        floor_seconds = run["seconds"]
                    elif kind in sinks:  # our sinks each right after a floor of their own: a pair
                        paired.setdefault(kind, []).append(floor_seconds / run["seconds"])
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.postgres and "postgres" in sinks:
                for round_number in range(args.rounds):
                    drop_schema(args.postgres, f"{schema}_{round_number}")
    report(best, paired)


if __name__ == "__main__":
    main()
