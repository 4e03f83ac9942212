"""The ``export`` command: parse (flags from the settings table), run the library, report.

What they print, and where, is :mod:`.reporting`'s business (``--quiet``, ``--verbose``, ``--log-format``,
``--summary-json``). Errors are one line, ``zendesk-export: error: …``, with the exit codes of :mod:`.errors`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import orjson

from zendesk_export.redaction import redact_secrets

from .engine import RunSummary, default_streams, export_tickets, run_streams
from .errors import EXIT_INTERRUPTED, ExportError
from .memory import one_malloc_arena
from .outputs import check_output, sideloads_held
from .reporting import Reporter, progress_display
from .settings import EXPORT_SETTINGS, REPORT_SETTINGS, ExportConfig, add_arguments, resolve
from .status import describe_status, read_status, status_document

__all__ = ["EXIT_CODES_HELP", "progress_display", "register", "run_export_command", "run_status_command"]

EXIT_CODES_HELP = """\
exit codes:
  0    success (also when there is nothing new yet)
  1    the API or the network failed (retries exhausted, unexpected answer, an export that cannot advance)
  2    usage: a bad or missing option, a bad --start-time, an output holding another account's or
       another mode's export
  3    access: wrong credentials (401), not an admin (403), no such account (404)
  4    output: the output cannot be opened or written
  130  interrupted; every page written so far is kept (the message says how many tickets), run the same
       command again to resume

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
    add_arguments(export.add_argument_group("reporting"), REPORT_SETTINGS)
    export.set_defaults(func=run_export_command)
    status = subparsers.add_parser(
        "status", help="what an output holds: each stream's checkpoint, rows, last run",
        description="Each stream of an export: its checkpoint, row count (and rows marked deleted), when it "
        "was last written and whether its last run reached the end. Writes nothing.")
    status.add_argument("--out", required=True, help="the output, as given to export --out")
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    status.set_defaults(func=run_status_command)


def run_status_command(args: argparse.Namespace) -> int:
    """``zendesk-export status``."""
    try:
        report = read_status(args.out)
    except ExportError as error:
        print(f"zendesk-export: error: {redact_secrets(str(error))}", file=sys.stderr)
        return error.exit_code
    if args.json:
        print(orjson.dumps(status_document(report), option=orjson.OPT_INDENT_2).decode())
    else:
        print("\n".join(describe_status(report)))
    return 0


def run_export_command(args: argparse.Namespace) -> int:
    """``zendesk-export export``."""
    return _guarded(args, lambda reporter: _export(args, reporter))


def _guarded(args: argparse.Namespace, command: Callable[[Reporter], int]) -> int:
    """Run a command; an :class:`ExportError` becomes one line on stderr and its exit code; Ctrl-C says how
    many tickets the output kept."""
    try:
        reporter = Reporter(**resolve(REPORT_SETTINGS, vars(args)))
    except ExportError as error:
        print(f"zendesk-export: error: {error}", file=sys.stderr)
        return error.exit_code
    try:
        return command(reporter)
    except ExportError as error:
        reporter.error(str(error), error.exit_code)
        return error.exit_code
    except KeyboardInterrupt:
        reporter.error(f"interrupted; the output keeps the {reporter.kept} tickets written so far, run the same "
                       "command again to resume", EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED


def _export(args: argparse.Namespace, reporter: Reporter) -> int:
    config = ExportConfig(**resolve(EXPORT_SETTINGS, vars(args)))
    one_malloc_arena()  # before the export's threads start (memory.one_malloc_arena)
    _warn_about_new_sideloads(config, reporter)
    check_output(config.out)
    names = config.streams or default_streams()
    if names == ("tickets",):  # the ticket export alone, exactly as before streams existed
        with reporter.progress() as report:
            summary = export_tickets(config, on_progress=report)
        reporter.summary(summary, config.out)
        return 0
    return _export_streams(config, names, reporter)


def _export_streams(config: ExportConfig, names: tuple[str, ...], reporter: Reporter) -> int:
    """Several streams: the tickets summary as always, then one line per stream; a failed stream is named in
    the error and sets the exit code, after the others have finished."""
    with reporter.progress() as report:
        run = run_streams(config, streams=names, on_progress=report)
    if not run.failed:
        reporter.summary(run.tickets, config.out, extra=run.describe(), streams=run.as_dict()["streams"])
        return 0
    reporter.error(_failure(run), run.exit_code)
    return run.exit_code


def _failure(run: RunSummary) -> str:
    """The first failed stream's error as the run's one line (a wrong token fails every stream alike), then
    which streams failed when not all of them did, and that the others' data is kept."""
    first = run.failed[0]
    if len(run.failed) == len(run.streams):
        return str(first.error)
    done = [name for name, result in run.streams.items() if result.error is None]
    return (f"{first.error} (stream {first.stream}; failed: {', '.join(r.stream for r in run.failed)}; "
            f"done and kept: {', '.join(done)}; run the same command again to resume each stream)")


def _warn_about_new_sideloads(config: ExportConfig, reporter: Reporter) -> None:
    """Sideloads come with the tickets of a page: added to an existing export, they cover only the tickets
    exported from now on. Say so, and how to get them for every ticket."""
    held = sideloads_held(config.out)
    new = [name for name in config.include if held is not None and name not in held]
    if new:
        names = ",".join(new)
        reporter.warning(f"--include {names}: this output was exported without {names} so far; only tickets "
                         f"exported from now on bring theirs. To have them for every ticket, export once into a "
                         f"new --out with --include {','.join(config.include)} --start-time 0")


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
