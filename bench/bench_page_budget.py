"""Where a page's time goes inside the exporter, without the network: the CPU milliseconds one 1000-ticket page
of the cursor export costs each sink to parse, to prepare and to write.

The export runs the fetch, the parse and the sink's ``prepare`` on its look-ahead thread and the ``write`` on
the calling thread, but both threads share the interpreter lock. For a sink whose work is Python (Parquet and
JSON Lines; SQLite and PostgreSQL hand much of theirs to the database) the sum of the three, plus the fetch, is
what a page costs at best; the floor of ``bench_sinks.py`` pays the fetch and the parse alone. This script
measures the three one after another on one thread, which a busy machine disturbs less than a whole export:

- ``fetch``: httpx's CPU for one page (measured once, while the pages are downloaded);
- ``parse``: ``orjson.loads`` of the body;
- ``prepare``: ``sink.prepare(tickets)`` where the sink has one (serialising, the Parquet row groups);
  SQLite has none;
- ``write``: ``sink.write(page)`` and freeing the page (planning, the rows, the commit, the index).

A seeded server runs in its own process; its pages are downloaded once into a temporary directory, then each
sink runs ``--rounds`` times in a fresh process (alternating); printed is each step's median page, the median of
the rounds. PostgreSQL is left out: most of its work is the database's, which this thread's clock does not see
(``bench_sinks.py`` prints its CPU). ``--analyst`` wraps the sink as the command's ticket export does
(custom-field columns, ``ticket_tags``, ``ticket_custom_field_values``).

    python bench/bench_page_budget.py --tickets 20000 --sinks parquet,jsonl,sqlite
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_sinks import CURSOR_PATH, EMAIL, TOKEN, compile_package, serve

OUT = {"sqlite": "out.db", "jsonl": "out.jsonl", "parquet": "out.parquet"}


def download(url: str, into: Path) -> float:
    """Save every page of the cursor export (and the ticket fields) into ``into``; httpx's median CPU ms a page."""
    import httpx
    import orjson

    costs = []
    with httpx.Client(base_url=url, auth=(f"{EMAIL}/token", TOKEN), timeout=60) as client:
        params: dict[str, Any] = {"start_time": 0, "per_page": 1000}
        for number in itertools.count():
            began = time.thread_time()
            body = client.get(CURSOR_PATH, params=params).raise_for_status().content
            costs.append(time.thread_time() - began)
            (into / f"page-{number:05d}.json").write_bytes(body)
            page = orjson.loads(body)
            if page["end_of_stream"]:
                break
            params = {"cursor": page["after_cursor"], "per_page": 1000}
        (into / "fields.json").write_bytes(client.get("/api/v2/ticket_fields.json").raise_for_status().content)
    return 1000 * statistics.median(costs)


def child(kind: str, pages: Path, analyst: bool) -> None:
    """One sink over the saved pages in this fresh process: prints the median page's milliseconds as JSON."""
    import orjson

    from zendesk_export.exporter.memory import fewer_collections
    from zendesk_export.exporter.sinks import open_sink
    from zendesk_export.exporter.sinks.base import Checkpoint, Page
    from zendesk_export.exporter.warehouse import BindingSink

    bodies = sorted(pages.glob("page-*.json"))
    fields = orjson.loads((pages / "fields.json").read_bytes())["ticket_fields"]
    costs: dict[str, list[float]] = {"parse": [], "prepare": [], "write": []}
    with tempfile.TemporaryDirectory() as tmp, fewer_collections():
        sink: Any = open_sink(str(Path(tmp) / OUT[kind]))
        if analyst:
            sink = BindingSink(sink, "tickets", lambda: fields)
        prepare = getattr(sink, "prepare", lambda _tickets: None)  # SQLite prepares nothing ahead
        try:
            for number, path in enumerate(bodies):
                body = path.read_bytes()
                began = time.thread_time()
                tickets = orjson.loads(body)["tickets"]
                parsed = time.thread_time()
                prepared = prepare(tickets)
                ready = time.thread_time()
                sink.write(Page(tickets, Checkpoint("cursor", f"page-{number}", "bench"), {}, prepared))
                del tickets, prepared
                done = time.thread_time()
                for name, spent in (("parse", parsed - began), ("prepare", ready - parsed), ("write", done - ready)):
                    costs[name].append(1000 * spent)
        finally:
            sink.close()
    print(json.dumps({name: statistics.median(values) for name, values in costs.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sinks", default="parquet,jsonl,sqlite", help="comma-separated: parquet, jsonl, sqlite")
    parser.add_argument("--analyst", action="store_true", help="write the ticket export's analyst tables too")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PAGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.analyst)
        return
    compile_package()
    kinds = [kind for kind in args.sinks.split(",") if kind]
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        server, url = serve(Path(tmp) / "server.db", args.tickets)
        try:
            pages = Path(tmp) / "pages"
            pages.mkdir()
            fetch = download(url, pages)
        finally:
            server.terminate()
            server.wait(timeout=30)
        for _ in range(args.rounds):
            for kind in kinds:
                analyst = ["--analyst"] if args.analyst else []
                command = [sys.executable, __file__, "--child", kind, str(pages), *analyst]
                result = subprocess.run(command, check=True, capture_output=True, text=True)
                runs[kind].append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"CPU ms for one 1000-ticket page (median page, median of {args.rounds} rounds); httpx's fetch: {fetch:.1f}")
    print(f"{'':>8} {'parse':>7} {'prepare':>8} {'write':>7} {'sum':>7}")
    for kind in kinds:
        median = {name: statistics.median(run[name] for run in runs[kind]) for name in ("parse", "prepare", "write")}
        total = sum(median.values())
        print(f"{kind:>8} {median['parse']:>7.1f} {median['prepare']:>8.1f} {median['write']:>7.1f} {total:>7.1f}")


if __name__ == "__main__":
    main()
