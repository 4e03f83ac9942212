"""What does the query of a 1000-ticket export page cost, HTTP and rendering aside?

Runs ``Store.changes`` (the query every time, cursor and include page runs) in process on a seeded SQLite
database, for 1001 tickets at 12 positions spread over the history, plain and with the columns
``include=users,groups,organizations`` reads, and prints the best and median milliseconds. Run it on the
databases ``bench_floor.py --keep DIR`` made; for "before", put another checkout's ``src`` first on PYTHONPATH.

    python bench/bench_page_query.py /tmp/bench/small-10000.db /tmp/bench/large-1000000.db
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from contextlib import closing

from zendesk_export.server.export.sideloads import wanted_columns
from zendesk_export.server.store.sqlite import SQLiteStore

POSITIONS = 12
PAGE = 1000


def spots(path: str) -> list[tuple[int, int]]:
    """(generated_timestamp, id) of tickets spread over the history, each with a page of tickets after it."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT generated_timestamp, id FROM tickets ORDER BY generated_timestamp, id").fetchall()
    usable = rows[: max(1, len(rows) - PAGE - 100)]
    return [(int(r[0]), int(r[1])) for r in usable[:: max(1, len(usable) // POSITIONS)][:POSITIONS]]


def measure(path: str, rounds: int) -> None:
    store = SQLiteStore(path)
    account = store.account(None)
    assert account is not None
    where = spots(path)
    for label, columns in (("plain", ()), ("include", wanted_columns({"include": "users,groups,organizations"}))):
        times = []
        for _ in range(rounds):
            for position in where:
                began = time.perf_counter()
                store.changes(account.id, "tickets", position, 2**40, PAGE + 1, False, columns)
                times.append((time.perf_counter() - began) * 1000)
        print(f"{path}: {label:>7} page query best {min(times):5.1f} ms, median {statistics.median(times):5.1f} ms",
              flush=True)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("databases", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for path in args.databases:
        measure(path, args.rounds)


if __name__ == "__main__":
    main()
