"""The ``export`` and ``demo`` commands: parse (flags from the settings table), run the library, report.

What they print, and where, is :mod:`.reporting`'s business (``--quiet``, ``--verbose``, ``--log-format``,
``--summary-json``). Errors are one line, ``zendesk-export: error: …``, with the exit codes of :mod:`.errors`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import EXIT_INTERRUPTED, ConfigError, ExportError
from .export import MIN_AGE, run_export
from .outputs import sideloads_held
from .reporting import Reporter, progress_display
from .settings import DEMO_SETTINGS, EXPORT_SETTINGS, REPORT_SETTINGS, ExportConfig, add_arguments, resolve

__all__ = ["EXIT_CODES_HELP", "progress_display", "register", "run_demo_command", "run_export_command"]

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

DEFAULT_DEMO_OUT = next(setting.default for setting in DEMO_SETTINGS if setting.name == "out")


def register(subparsers: Any) -> None:
    """Add ``export`` and ``demo`` to the CLI's subparsers; each sets ``func(args) -> exit code``."""
    export = subparsers.add_parser(
        "export", help="export every changed ticket into a database or files",
        description="Export every ticket changed since the last run (or --start-time) from a Zendesk "
        "account, page by page, resumable, without losing or doubling a ticket.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(export, EXPORT_SETTINGS)
    add_arguments(export.add_argument_group("reporting"), REPORT_SETTINGS)
    export.set_defaults(func=run_export_command)
    demo = subparsers.add_parser(
        "demo", help="export a seeded local server end to end, with a summary",
        description="Start a local Zendesk server seeded with synthetic tickets (embedded SQLite, temporary "
        f"directory), export it into {DEFAULT_DEMO_OUT} (replaced on every run) or --out, and check the "
        "output against the server.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(demo, DEMO_SETTINGS)
    add_arguments(demo.add_argument_group("reporting"), REPORT_SETTINGS)
    demo.set_defaults(func=run_demo_command)


def run_export_command(args: argparse.Namespace) -> int:
    """``zendesk-export export``."""
    return _guarded(args, lambda reporter: _export(args, reporter))


def run_demo_command(args: argparse.Namespace) -> int:
    """``zendesk-export demo``."""
    return _guarded(args, lambda reporter: _demo(args, reporter))


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
    _warn_about_new_sideloads(config, reporter)
    with reporter.progress() as report:
        summary = run_export(config, on_progress=report)
    reporter.summary(summary, config.out)
    return 0


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


def _demo(args: argparse.Namespace, reporter: Reporter) -> int:
    """Seed a server in a temporary directory, export it, print the summary, check the output's tickets."""
    from zendesk_export.server.runner import running_server
    from zendesk_export.server.store import DEMO

    values = resolve(DEMO_SETTINGS, vars(args), environ={})
    out = _fresh_demo_output(values["out"])
    admin = next(user for user in DEMO["users"] if user["role"] == "admin")
    with tempfile.TemporaryDirectory(prefix="zendesk-export-demo-") as tmp:
        seeded = time.monotonic()
        with running_server(str(Path(tmp) / "zendesk.db"), rate_limit="off", seed=values["tickets"],
                            random_seed=values["random_seed"]) as server:
            # a minute later, the newest seeded tickets are out of the export's last-minute blind spot
            server.clock.advance(MIN_AGE)
            if not (reporter.quiet or reporter.log_format == "json"):
                print(f"server: {server.url} (account {DEMO['subdomain']}, {values['tickets']} synthetic "
                      f"tickets, ready in {time.monotonic() - seeded:.2f}s)",
                      file=sys.stderr if reporter.summary_json == "-" else sys.stdout)
            config = ExportConfig(url=server.url, email=admin["email"], token=admin["api_token"], out=out,
                                  mode=values["mode"], include=values["include"])
            with reporter.progress() as report:
                summary = run_export(config, on_progress=report)
    code, verdict = _verify(out, values["tickets"])
    reporter.summary(summary, out, [verdict])
    return code


def _fresh_demo_output(out: str) -> str:
    """The demo always writes a new output: its server (and so its checkpoint's source) is new every time.
    The default output is replaced; any other existing one is refused rather than touched."""
    path = Path(out)
    if out == DEFAULT_DEMO_OUT:
        for leftover in (path, Path(out + "-wal"), Path(out + "-shm")):
            leftover.unlink(missing_ok=True)
    elif path.exists():
        raise ConfigError(f"--out {out} exists; the demo writes a new output, choose another path")
    return out


def _verify(out: str, expected: int) -> tuple[int, str]:
    """(exit code, the check's line): does the output hold exactly the server's tickets?"""
    count = output_ticket_count(out)
    if count is None:
        return 0, f"check: skipped (cannot count the tickets of {out})"
    if count != expected:
        return 1, f"check: FAILED, the output has {count} tickets, the server {expected}"
    return 0, f"check: ok, the output has exactly the server's {expected} tickets, one row each"


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
