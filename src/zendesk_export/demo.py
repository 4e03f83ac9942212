"""``zendesk-export demo``: a seeded server on an embedded database, exported end to end, with a summary.

The one place where the two halves meet (besides ``cli``): the exporter never imports the server, nor the
server the exporter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from zendesk_export.exporter.commands import EXIT_CODES_HELP, _guarded, output_ticket_count
from zendesk_export.exporter.errors import ConfigError
from zendesk_export.exporter.export import MIN_AGE, run_export
from zendesk_export.exporter.reporting import Reporter
from zendesk_export.exporter.settings import DEMO_SETTINGS, REPORT_SETTINGS, ExportConfig, add_arguments, resolve

__all__ = ["DEFAULT_DEMO_OUT", "register", "run_demo_command"]

DEFAULT_DEMO_OUT = next(setting.default for setting in DEMO_SETTINGS if setting.name == "out")


def register(subparsers: Any) -> None:
    """Add ``demo`` to the CLI's subparsers; it sets ``func(args) -> exit code``."""
    demo = subparsers.add_parser(
        "demo", help="export a seeded local server end to end, with a summary",
        description="Start a local Zendesk server seeded with synthetic tickets (embedded SQLite, temporary "
        f"directory), export it into {DEFAULT_DEMO_OUT} (replaced on every run) or --out, and check the "
        "output against the server.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(demo, DEMO_SETTINGS)
    add_arguments(demo.add_argument_group("reporting"), REPORT_SETTINGS)
    demo.set_defaults(func=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """``zendesk-export demo``."""
    return _guarded(args, lambda reporter: _demo(args, reporter))


def _demo(args: argparse.Namespace, reporter: Reporter) -> int:
    """Seed a server in a temporary directory, export it, print the summary, check the output's tickets."""
    # imported here: every command of the CLI imports this module, and only this one needs the server
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
