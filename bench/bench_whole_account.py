"""The whole-account command's peak memory and time, per output. (Target: peak RSS under 150 MB.)

One seeded server in its own process (rate limits off); ``zendesk-export export`` with every stream (the
default) into a new output of each kind, each run in a fresh process so that its peak RSS (``ru_maxrss``) is
its own. ``postgres`` runs only with ``--postgres DSN`` or ``ZENDESK_EXPORT_TEST_POSTGRES`` (its schemas are
dropped). Printed per output: the fastest round's seconds and CPU seconds, and the highest peak RSS of any
round (the target is a bound, so the worst round counts) with the mapped files' share of that round's memory
(``files``, ``bench_sinks.file_backed_mb``).

    python bench/bench_whole_account.py --tickets 50000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from subprocess import run

sys.path.insert(0, str(Path(__file__).parent))

from bench_sinks import EMAIL, TOKEN, drop_schema, file_backed_mb, output, serve  # noqa: E402

TARGET_MB = 150


def child(url: str, out: str) -> None:
    """The command in this (fresh) process; prints ``{"exit", "seconds", "cpu", "rss_mb"}`` as JSON."""
    from zendesk_export.cli import main

    began = time.perf_counter()
    code = main(["export", "--url", url, "--email", EMAIL, "--token", TOKEN, "--out", out, "--quiet"])
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"exit": code, "seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
                      "rss_mb": usage.ru_maxrss / 1024, "files_mb": file_backed_mb()}))


def measure(url: str, out: str) -> dict[str, float]:
    process = run([sys.executable, __file__, "--child", url, out], capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise SystemExit(f"export into {out} failed:\n{process.stderr[-3000:]}")
    result: dict[str, float] = json.loads(process.stdout.splitlines()[-1])
    if result["exit"] != 0:
        raise SystemExit(f"export into {out} exited {result['exit']}:\n{process.stderr[-3000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--outputs", default="sqlite,jsonl,parquet,postgres", help="comma-separated outputs")
    parser.add_argument("--postgres", default=os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES"))
    parser.add_argument("--child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    kinds = [kind for kind in args.outputs.split(",") if kind and (kind != "postgres" or args.postgres)]
    schema = f"bench_account_{uuid.uuid4().hex[:8]}"
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        server, url = serve(Path(tmp) / "server.db", args.tickets)
        try:
            for round_number in range(args.rounds):
                for kind in kinds:  # alternating, so that a busy moment of the machine is shared out
                    result = measure(url, output(kind, Path(tmp), round_number, args.postgres, schema))
                    runs[kind].append(result)
                    print(f"round {round_number + 1} {kind}: {result['seconds']:.2f} s, {result['rss_mb']:.0f} MB",
                          flush=True)
        finally:
            server.terminate()
            server.wait()
            if "postgres" in kinds:
                for round_number in range(args.rounds):
                    drop_schema(args.postgres, f"{schema}_{round_number}")
    print(f"{'':>9} {'seconds':>8} {'CPU s':>6} {'peak RSS':>9} {'files':>6}  under {TARGET_MB} MB")
    for kind, results in runs.items():
        fastest = min(results, key=lambda result: result["seconds"])
        worst = max(results, key=lambda result: result["rss_mb"])
        peak = worst["rss_mb"]
        print(f"{kind:>9} {fastest['seconds']:>8.2f} {fastest['cpu']:>6.2f} {peak:>6.0f} MB "
              f"{worst['files_mb']:>6.0f}  {'yes' if peak < TARGET_MB else 'no'}")


if __name__ == "__main__":
    main()
