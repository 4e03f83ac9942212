"""Does the exporter stream? Peak memory of a whole export at N and at 4N tickets. (Target: ratio ≈ 1.)

Two seeded servers, each in its own process; ``run_export`` into a new SQLite output runs in this process
under ``tracemalloc``, whose peak counts every Python allocation the export makes (pages, parsed tickets,
rows). A streaming exporter holds one page at a time, so its peak does not grow with the account.

    python bench/bench_memory.py --tickets 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_export import EMAIL, TOKEN, serve  # noqa: E402

from zendesk_export.exporter import ExportConfig, run_export  # noqa: E402


def peak_mib(url: str, out: Path, mode: str) -> tuple[float, int]:
    tracemalloc.start()
    summary = run_export(ExportConfig(url=url, email=EMAIL, token=TOKEN, mode=mode), str(out))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, summary.tickets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20_000)
    args = parser.parse_args()
    sizes = {"N": args.tickets, "4N": 4 * args.tickets}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("time", "cursor"):
            peaks = {}
            for name, tickets in sizes.items():
                process, url = serve(Path(tmp) / f"{name}-{mode}.db", tickets)
                try:
                    peaks[name], exported = peak_mib(url, Path(tmp) / f"out-{name}-{mode}.db", mode)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                print(f"{mode:>6} {name:>2}: {exported:>8,} tickets exported, peak {peaks[name]:6.1f} MiB")
            print(f"{mode:>6} peak ratio 4N/N: {peaks['4N'] / peaks['N']:.2f}")


if __name__ == "__main__":
    main()
