"""The ``export`` and ``demo`` commands: parse (flags from the settings table), run the library, report.

Progress goes to stderr (a bar on a terminal, plain timestamped lines otherwise, so logs stay readable); the
summary goes to stdout. Errors are one line, ``zendesk-export: error: …``, with the exit codes of
:mod:`.errors`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from .errors import EXIT_INTERRUPTED, ExportError
from .export import ExportSummary, Progress, run_export
from .settings import EXPORT_SETTINGS, ExportConfig, add_arguments, resolve

__all__ = ["EXIT_CODES_HELP", "register", "run_export_command"]

EXIT_CODES_HELP = """\
exit codes:
  0    success (also when there is nothing new yet)
  1    the API or the network failed (retries exhausted, unexpected answer, an export that cannot advance)
  2    usage: a bad or missing option, a bad --start-time, an output holding another account's or
       another mode's export
  3    access: wrong credentials (401), not an admin (403), no such account (404)
  4    output: the output cannot be opened or written
  130  interrupted; every page written so far is kept, run the same command again to resume

Credentials and options also come from the environment (shown per option). Run the same command again to
continue where the last run stopped: the checkpoint lives in the output, --start-time only seeds a new one.
"""


def register(subparsers: Any) -> None:
    """Add ``export`` to the CLI's subparsers; it sets ``func(args) -> exit code``."""
    export = subparsers.add_parser(
        "export", help="export every changed ticket into a database or files",
        description="Export every ticket changed since the last run (or --start-time) from a Zendesk "
        "account, page by page, resumable, without losing or doubling a ticket.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(export, EXPORT_SETTINGS)
    export.set_defaults(func=run_export_command)


def run_export_command(args: argparse.Namespace) -> int:
    """``zendesk-export export``."""
    return _guarded(lambda: _export(args))


def _guarded(command: Callable[[], int]) -> int:
    """Run a command; an :class:`ExportError` becomes one line on stderr and its exit code."""
    try:
        return command()
    except ExportError as error:
        print(f"zendesk-export: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("zendesk-export: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def _export(args: argparse.Namespace) -> int:
    config = ExportConfig(**resolve(EXPORT_SETTINGS, vars(args)))
    with progress_display(sys.stderr) as report:
        summary = run_export(config, on_progress=report)
    _print_summary(summary, config.out)
    return 0


def _print_summary(summary: ExportSummary, out: str) -> None:
    for line in [*summary.describe(), f"output: {out}"]:
        print(line)


@contextmanager
def progress_display(stream: TextIO) -> Iterator[Callable[[Progress], None]]:
    """A progress callback: a rich bar when ``stream`` is a terminal, plain log lines otherwise."""
    display: _Bar | _Lines = _Bar(Console(file=stream)) if stream.isatty() else _Lines(stream)
    try:
        yield display
    finally:
        display.close()


class _Lines:
    """One timestamped line per page and per pause: what a log file or CI output wants."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Progress) -> None:
        if event.kind == "page":
            self._line(f"page {event.pages}: {event.tickets} tickets, {event.requests} requests"
                       f"{_up_to(event)}")
        elif event.kind == "wait" and event.wait is not None:
            self._line(f"waiting {event.wait.seconds:.1f}s: {event.wait.reason}")

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to tear down."""


def _up_to(event: Progress) -> str:
    """How far the exported timestamps have come, once the server's clock is known."""
    if event.reached is None or event.target is None:
        return ""
    return f", up to {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(event.reached))} UTC"


class _Bar:
    """A rich progress bar: how far the exported timestamps have come towards the server's "now - 1 min",
    with tickets, pages, rate and rate-limit waits."""

    def __init__(self, console: Console) -> None:
        self.started = time.monotonic()
        self.progress = RichProgress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console)
        self.task = self.progress.add_task("exporting", total=None, stats="")
        self.progress.start()

    def __call__(self, event: Progress) -> None:
        rate = event.tickets / max(time.monotonic() - self.started, 1e-6)
        stats = (f"{event.tickets:,} tickets · {event.pages} pages · {rate:,.0f}/s · "
                 f"{event.rate_limit_waits} rate-limit waits")
        description = "exporting"
        if event.kind == "wait" and event.wait is not None:
            description = f"waiting {event.wait.seconds:.0f}s ({event.wait.reason})"
        total, completed = _fraction(event)
        self.progress.update(self.task, description=description, stats=stats, total=total,
                             completed=completed)

    def close(self) -> None:
        self.progress.stop()


def _fraction(event: Progress) -> tuple[float | None, float | None]:
    """(total, completed) for the bar: seconds of history to export, and exported; (None, None) if unknown."""
    if event.kind == "done":
        return 1.0, 1.0
    origin, reached, target = event.origin, event.reached, event.target
    if origin is None or reached is None or target is None or target <= origin:
        return None, None
    return target - origin, min(reached, target) - origin


def output_ticket_count(out: str) -> int | None:
    """Distinct tickets in an output (SQLite, JSONL, Parquet); -1 if a SQLite output holds an id twice; None for
    outputs we do not read back (PostgreSQL)."""
    from . import sinks

    if out.startswith(("postgresql://", "postgres://")):
        return None
    if out.endswith(".jsonl"):
        return len(sinks.read_jsonl_latest(out))
    if out.rstrip("/").endswith(".parquet"):
        return len(sinks.read_parquet_latest(out))
    with sqlite3.connect(f"file:{os.path.abspath(sinks.sqlite_path(out))}?mode=ro", uri=True) as db:
        rows, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM tickets").fetchone()
    return int(rows) if rows == distinct else -1
