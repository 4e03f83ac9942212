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

from zendesk_export.exporter.commands import (
    EXIT_CODES_HELP,
    _guarded,
    _print_summary,
    output_ticket_count,
    progress_display,
)
from zendesk_export.exporter.errors import ConfigError
from zendesk_export.exporter.export import MIN_AGE, run_export
from zendesk_export.exporter.settings import DEMO_SETTINGS, ExportConfig, add_arguments, resolve
from zendesk_export.server.runner import running_server
from zendesk_export.server.store import DEMO

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
    demo.set_defaults(func=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """``zendesk-export demo``."""
    return _guarded(lambda: _demo(args))


def _demo(args: argparse.Namespace) -> int:
    """Seed a server in a temporary directory, export it, print the summary, check the output's tickets."""
    values = resolve(DEMO_SETTINGS, vars(args), environ={})
    out = _fresh_demo_output(values["out"])
    admin = next(user for user in DEMO["users"] if user["role"] == "admin")
    with tempfile.TemporaryDirectory(prefix="zendesk-export-demo-") as tmp:
        seeded = time.monotonic()
        with running_server(str(Path(tmp) / "zendesk.db"), rate_limit="off", seed=values["tickets"],
                            random_seed=values["random_seed"]) as server:
            # a minute later, the newest seeded tickets are out of the export's last-minute blind spot
            server.clock.advance(MIN_AGE)
            print(f"server: {server.url} (account {DEMO['subdomain']}, {values['tickets']} synthetic tickets, "
                  f"ready in {time.monotonic() - seeded:.2f}s)")
            config = ExportConfig(url=server.url, email=admin["email"], token=admin["api_token"], out=out,
                                  mode=values["mode"], include=values["include"])
            with progress_display(sys.stderr) as report:
                summary = run_export(config, on_progress=report)
    _print_summary(summary, out)
    return _verify(out, values["tickets"])


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


def _verify(out: str, expected: int) -> int:
    count = output_ticket_count(out)
    if count is None:
        print(f"check: skipped (cannot count the tickets of {out})")
        return 0
    if count != expected:
        print(f"check: FAILED, the output has {count} tickets, the server {expected}")
        return 1
    print(f"check: ok, the output has exactly the server's {expected} tickets, one row each")
    return 0
