"""One table per command of settings (name, default, help, environment variable), read once.

CLI flags, their ``--help`` and the README's option list all derive from these tables, so they cannot drift.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Setting", "SERVE", "SEED", "add_arguments"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    env: str | None = None
    type: Callable[[str], Any] = str
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


_DB = Setting(
    "db", "zendesk-export.db",
    "database: a file path or sqlite:///PATH (embedded SQLite), or postgresql://… (default: %(default)s)",
    env="ZENDESK_EXPORT_DB", metavar="URL",
)
_RANDOM_SEED = Setting("random_seed", 0, "seed of the synthetic data generator (default: %(default)s)", type=int,
                       metavar="S")

def _rate_limit(value: str) -> str:
    """on, off or a positive number of incremental-export requests per minute."""
    value = value.strip().lower()
    if value in ("on", "off") or (value.isdigit() and int(value) > 0):
        return value
    raise argparse.ArgumentTypeError(f"expected on, off or a positive number, not {value!r}")


SERVE: tuple[Setting, ...] = (
    _DB,
    Setting("host", "127.0.0.1", "interface to listen on; loopback only while the demo credentials exist "
            "(default: %(default)s)"),
    Setting("port", 8000, "TCP port; 0 picks a free one (default: %(default)s)", type=int),
    Setting("seed", 0, "add N synthetic tickets to the default account at start (default: %(default)s)", type=int,
            metavar="N"),
    _RANDOM_SEED,
    Setting("rate_limit", "on", "Zendesk's rate limits: on, off, or incremental-export requests per minute "
            "(default: %(default)s)", env="ZENDESK_EXPORT_RATE_LIMIT", type=_rate_limit, metavar="N|on|off"),
    Setting("faults", None, "fault rules active from the start: a JSON file holding a list of rules, as for "
            "PUT /__admin/faults (default: none)", env="ZENDESK_EXPORT_FAULTS", metavar="FILE"),
    Setting("admin_token", None, "bearer token of the /__admin/ API (default: random, printed at start)",
            env="ZENDESK_EXPORT_ADMIN_TOKEN", metavar="T"),
)

SEED: tuple[Setting, ...] = (
    _DB,
    Setting("tickets", 1000, "number of synthetic tickets to add (default: %(default)s)", type=int, metavar="N"),
    _RANDOM_SEED,
)


def add_arguments(parser: argparse.ArgumentParser, settings: Sequence[Setting]) -> None:
    """One flag per setting; an environment variable, when set, replaces the default."""
    for s in settings:
        default = os.environ.get(s.env, s.default) if s.env else s.default
        env_note = f" [env {s.env}]" if s.env else ""
        parser.add_argument(s.flag, dest=s.name, default=default, type=s.type, metavar=s.metavar,
                            help=s.help + env_note)
