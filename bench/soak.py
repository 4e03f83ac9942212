"""Soak: writers and exporters hammer one server at the same time; at the end every export equals the store.

Starts ``zendesk-export serve`` in its own process (SQLite by default, or ``--db postgresql://…``), seeds it, then
for ``--duration`` seconds runs writer threads (create, update, delete tickets through the API) beside exporter
processes (``zendesk-export export --streams tickets`` into JSONL, time-based and cursor-based, each run again as
soon as it ends).
When the time is up the writers stop, the server's clock moves past the one-minute visibility delay, every
exporter runs once more, and each output must hold exactly the store's tickets: every id, each at its latest
``generated_timestamp``, no version written twice. Exits 1 on any difference or failed request.

    python bench/soak.py --duration 60            # what CI runs
    python bench/soak.py --duration 600 --db postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from zendesk_export.exporter.sinks.jsonl import log_path
from zendesk_export.server.store import open_store
from zendesk_export.testing import AdminClient

AUTH = ("admin@example.com/token", "demo-token")
CLI = [sys.executable, "-m", "zendesk_export"]


@dataclass
class Tally:
    """What the writers and exporters did; ``failures`` holds every unexpected answer or exit."""

    writes: Counter[str] = field(default_factory=Counter)
    export_runs: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def free_port() -> int:
    """A port free now (``load.py`` starts servers of several workers on one port it names)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db: str, admin_token: str, seed: int) -> tuple[subprocess.Popen[str], str]:
    """The server and its URL. It binds a port of its own choosing (``--port 0``) and names it in its banner's
    first line, so that no other process can take the port between a choice here and the bind there, seconds
    later, after the seeding. The token goes as ``--admin-token=…``: one in 64 random tokens begins with ``-``,
    which argparse would take for an option (the server then exits with 2)."""
    server = subprocess.Popen([*CLI, "serve", "--db", db, "--port", "0", "--rate-limit", "off",
                               f"--admin-token={admin_token}", "--seed", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    found = re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline())  # waits for the banner
    if found is None:
        server.kill()
        sys.exit(f"soak: the server exited with {server.wait()} before listening")
    url = found.group(0)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/api/v2/tickets/1.json", auth=AUTH, timeout=2)
            return server, url
        except httpx.TransportError:
            if server.poll() is not None:
                sys.exit(f"soak: the server exited with {server.returncode}")
            time.sleep(0.2)
    server.kill()
    sys.exit("soak: the server did not answer within 120 s")


def write(url: str, seed: int, stop: threading.Event, tally: Tally) -> None:
    """Create, update and delete tickets until ``stop``: most writes create or update, a few delete."""
    rng = random.Random(seed)
    known: list[int] = []
    with httpx.Client(base_url=url, auth=AUTH, timeout=60) as http:
        while not stop.is_set():
            action = "create" if len(known) < 5 else rng.choices(["create", "update", "delete"], [4, 5, 1])[0]
            if action == "create":
                response = http.post("/api/v2/tickets.json", json={"ticket": {
                    "subject": f"soak {seed}-{len(known)}", "comment": {"body": "written during the soak"}}})
                if response.status_code == 201:
                    known.append(response.json()["ticket"]["id"])
            elif action == "update":
                ticket_id = rng.choice(known)
                response = http.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {
                    "status": rng.choice(["open", "pending", "solved"]), "tags": [f"t{rng.randint(1, 9)}"]}})
            else:
                ticket_id = known.pop(rng.randrange(len(known)))
                response = http.delete(f"/api/v2/tickets/{ticket_id}.json")
            expected = {"create": 201, "update": 200, "delete": 204}[action]
            if response.status_code != expected:
                tally.fail(f"{action}: {response.status_code} {response.text[:200]}")
            with tally.lock:
                tally.writes[action] += 1


def export_command(url: str, out: Path, mode: str) -> list[str]:
    return [*CLI, "export", "--url", url, "--email", AUTH[0].removesuffix("/token"), "--token", AUTH[1],
            "--out", str(out), "--mode", mode, "--quiet", "--no-backoff", "--streams", "tickets"]


def export_until(url: str, out: Path, mode: str, stop: threading.Event, tally: Tally) -> None:
    """Run the exporter again and again (each run resumes from its checkpoint) until ``stop``."""
    while not stop.is_set():
        finished = subprocess.run(export_command(url, out, mode), capture_output=True, text=True)
        if finished.returncode != 0:
            tally.fail(f"export {mode} exited {finished.returncode}: {finished.stderr.strip()[-300:]}")
        with tally.lock:
            tally.export_runs[mode] += 1


def exported_versions(out: Path) -> tuple[dict[int, int], int]:
    """id → newest generated_timestamp in a JSONL output's ticket log, and how many (id, timestamp) pairs it
    holds twice."""
    latest: dict[int, int] = {}
    seen: Counter[tuple[int, int]] = Counter()
    for line in log_path(out).read_bytes().splitlines():
        ticket = orjson.loads(line)
        pair = (ticket["id"], ticket["generated_timestamp"])
        seen[pair] += 1
        latest[pair[0]] = max(latest.get(pair[0], 0), pair[1])
    return latest, sum(1 for count in seen.values() if count > 1)


def store_versions(db: str) -> dict[int, int]:
    store = open_store(db)
    try:
        account = store.account(None)
        assert account is not None
        return {row.id: row.generated_timestamp for row in store.export_rows(account.id, 0, 2**62, -1, False)}
    finally:
        store.close()


def soak(db: str, duration: float, writers: int, seed: int, folder: Path) -> Tally:
    admin_token = secrets.token_urlsafe(24)
    server, url = start_server(db, admin_token, seed)
    tally, stop = Tally(), threading.Event()
    outputs = {mode: folder / f"{mode}.jsonl" for mode in ("time", "cursor")}
    threads = [threading.Thread(target=write, args=(url, n, stop, tally)) for n in range(writers)]
    threads += [threading.Thread(target=export_until, args=(url, out, mode, stop, tally))
                for mode, out in outputs.items()]
    try:
        for thread in threads:
            thread.start()
        time.sleep(duration)
        stop.set()
        for thread in threads:
            thread.join()
        admin = AdminClient(url, admin_token)
        admin.advance(61)  # every write is now older than the export's one-minute visibility delay
        admin.close()
        for mode, out in outputs.items():
            finished = subprocess.run(export_command(url, out, mode), capture_output=True, text=True)
            if finished.returncode != 0:
                tally.fail(f"final export {mode} exited {finished.returncode}: {finished.stderr.strip()[-300:]}")
        truth = store_versions(db)
        for mode, out in outputs.items():
            exported, doubled = exported_versions(out)
            missing = sorted(set(truth) - set(exported))
            stale = sorted(i for i in truth if i in exported and exported[i] != truth[i])
            extra = sorted(set(exported) - set(truth))
            if missing or stale or extra or doubled:
                tally.fail(f"{mode} export differs from the store: {len(missing)} missing {missing[:5]}, "
                           f"{len(stale)} stale {stale[:5]}, {len(extra)} unknown {extra[:5]}, "
                           f"{doubled} versions written twice")
        print(f"store: {len(truth):,} tickets")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of concurrent writing and exporting")
    parser.add_argument("--db", help="postgresql://… (a fresh schema is up to you); default: a new SQLite file")
    parser.add_argument("--writers", type=int, default=4, help="writer threads (default 4)")
    parser.add_argument("--seed", type=int, default=2000, help="tickets seeded before the soak (default 2000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "soak.db")
        tally = soak(db, args.duration, args.writers, args.seed, Path(tmp))
    writes = ", ".join(f"{count:,} {action}" for action, count in sorted(tally.writes.items()))
    runs = ", ".join(f"{count} {mode}" for mode, count in sorted(tally.export_runs.items()))
    print(f"{args.duration:.0f} s: writes {writes}; export runs {runs}")
    for failure in tally.failures[:20]:
        print(f"FAIL {failure}")
    print("soak: every export equals the store" if not tally.failures else f"soak: {len(tally.failures)} failures")
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
