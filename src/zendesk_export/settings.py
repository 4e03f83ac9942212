"""One table per command of settings (name, default, environment variable, help), read once.

CLI flags and their ``--help`` derive from these tables (``add_arguments``), and ``resolve`` applies the
precedence *command line > environment > default*, parsing every value with the same function whatever its
origin, so a bad environment variable gets the same one-line error as a bad flag. The server's tables are here;
the exporter's are in :mod:`zendesk_export.exporter.settings`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MIN_ADMIN_TOKEN",
    "SEED",
    "SERVE",
    "Setting",
    "SettingError",
    "add_arguments",
    "bounded_int",
    "parse_admin_token",
    "parse_bool",
    "parse_rate_limit",
    "positive_float",
    "resolve",
]


class SettingError(ValueError):
    """A flag or environment variable with a value its setting cannot parse; the message names it."""


def parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false)")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is not between {low} and {high}")
        return value

    return parse


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive number")
    return value


MIN_ADMIN_TOKEN = 16


def parse_admin_token(value: str) -> str:
    """The admin API's bearer token: at least 16 characters, so that it cannot be guessed in a few tries."""
    if len(value) < MIN_ADMIN_TOKEN:
        raise ValueError(f"the admin token must be at least {MIN_ADMIN_TOKEN} characters, not {len(value)}")
    return value


def parse_rate_limit(value: str) -> str:
    """on, off or a positive number of incremental-export requests per minute."""
    value = value.strip().lower()
    if value in ("on", "off") or (value.isascii() and value.isdigit() and int(value) > 0):
        return value
    raise ValueError(f"expected on, off or a positive number, not {value!r}")


@dataclass(frozen=True)
class Setting:
    """One setting: its CLI flag is ``--name-with-dashes``; ``parse`` turns a CLI or environment string into
    the value; ``switch`` settings are boolean flags without an argument."""

    name: str
    default: Any
    help: str
    env: str | None = None
    parse: Callable[[str], Any] = str
    metavar: str | None = None
    switch: bool = False
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


_DB = Setting(
    "db", "zendesk-export.db",
    "database: a file path or sqlite:///PATH (embedded SQLite), or postgresql://…",
    env="ZENDESK_EXPORT_DB", metavar="URL",
)
_RANDOM_SEED = Setting("random_seed", 0, "seed of the synthetic data generator", parse=int, metavar="S")

SERVE: tuple[Setting, ...] = (
    _DB,
    Setting("host", "127.0.0.1", "interface to listen on; loopback only while the demo credentials exist"),
    Setting("port", 8000, "TCP port; 0 picks a free one", parse=int),
    Setting("seed", 0, "add N synthetic tickets to the default account at start, if it holds none yet",
            parse=int, metavar="N"),
    _RANDOM_SEED,
    Setting("rate_limit", "on", "Zendesk's rate limits: on, off, or incremental-export requests per minute",
            env="ZENDESK_EXPORT_RATE_LIMIT", parse=parse_rate_limit, metavar="N|on|off"),
    Setting("faults", None, "fault rules active from the start: a JSON file holding a list of rules, as for "
            "PUT /__admin/faults", env="ZENDESK_EXPORT_FAULTS", metavar="FILE"),
    Setting("admin_token", None, f"bearer token of the /__admin/ API, at least {MIN_ADMIN_TOKEN} characters "
            "(random and printed at start when not given)",
            env="ZENDESK_EXPORT_ADMIN_TOKEN", parse=parse_admin_token, metavar="T", secret=True),
    Setting("quiet", False, "no access log (one line per request on stderr) and no seeding progress",
            env="ZENDESK_EXPORT_QUIET", parse=parse_bool, switch=True),
    Setting("workers", 1, "server processes sharing the port and the database (1-64); the journal, fault rules "
            "and rate limits then live in the database, the same for every process",
            env="ZENDESK_EXPORT_WORKERS", parse=bounded_int(1, 64), metavar="N"),
)

SEED: tuple[Setting, ...] = (
    _DB,
    Setting("tickets", 1000, "number of synthetic tickets to add", parse=int, metavar="N"),
    _RANDOM_SEED,
)


def add_arguments(parser: argparse.ArgumentParser, settings: Sequence[Setting]) -> None:
    """Add one flag per setting. Defaults stay ``None`` so that :func:`resolve` can tell "not given" (fall
    back to the environment) from "given"."""
    for setting in settings:
        where = [f"env {setting.env}"] if setting.env else []
        if not setting.secret and setting.default not in (None, (), False):
            where.append(f"default {setting.default}")
        help_text = setting.help + (f" ({'; '.join(where)})" if where else "")
        if setting.switch:
            parser.add_argument(setting.flag, dest=setting.name, action="store_const", const=True,
                                default=None, help=help_text)
        else:
            parser.add_argument(setting.flag, dest=setting.name, default=None, metavar=setting.metavar,
                                help=help_text)


def resolve(settings: Sequence[Setting], given: Mapping[str, Any],
            environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each setting's value: from ``given`` (the command line) if not None, else its environment variable if
    set and not empty, else its default. Strings are parsed; a parse failure is a :class:`SettingError` naming
    the flag or variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in settings:
        raw, origin = given.get(setting.name), setting.flag
        if raw is None and setting.env and environ.get(setting.env):
            raw, origin = environ[setting.env], setting.env
        values[setting.name] = setting.default if raw is None else _parse(setting, raw, origin)
    return values


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return setting.parse(raw)
    except ValueError as error:
        detail = str(error) if "invalid literal" not in str(error) else f"{raw!r} is not a number"
        raise SettingError(f"{origin}: {detail}") from None


