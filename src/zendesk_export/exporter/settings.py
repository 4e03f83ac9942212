"""The exporter's settings: one table (name, default, environment variable, help) read once.

The CLI flags of ``zendesk-export export`` and ``demo`` are generated from :data:`EXPORT_SETTINGS` and
:data:`DEMO_SETTINGS`; :func:`resolve` applies the precedence *command line > environment > default* and
parses every value with the same function whatever its origin, so a bad ``ZENDESK_EXPORT_START_TIME`` gets the
same one-line error as a bad ``--start-time``. Library users build an :class:`ExportConfig` directly (or with
:meth:`ExportConfig.from_env`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from zendesk_export.settings import (
    Setting,
    SettingError,
    add_arguments,
    bounded_int,
    parse_bool,
    positive_float,
)
from zendesk_export.settings import resolve as resolve_settings

from .errors import ConfigError
from .streams import STREAM_NAMES, parse_streams

__all__ = [
    "DEMO_SETTINGS",
    "EXPORT_SETTINGS",
    "INCLUDABLE",
    "MODES",
    "REPORT_SETTINGS",
    "ExportConfig",
    "Setting",
    "add_arguments",
    "parse_include",
    "parse_start_time",
    "resolve",
]

MODES = ("time", "cursor")
INCLUDABLE = ("users", "groups", "organizations")
MAX_PER_PAGE = 1000


def parse_start_time(text: str) -> int:
    """Epoch seconds (``1700000000``) or ISO-8601 (``2024-01-31``, ``2024-01-31T12:00:00Z``, with an offset).

    A date or time without an offset is read as UTC, because Zendesk's timestamps are UTC."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is neither epoch seconds nor an ISO-8601 date/time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.timestamp() < 0:
        raise ValueError(f"{text!r} is before 1970")
    return int(moment.timestamp())


def parse_include(text: str) -> tuple[str, ...]:
    """A comma-separated subset of ``users,groups,organizations`` (spaces and repeats tolerated)."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(INCLUDABLE))
    if unknown:
        raise ValueError(f"unknown sideload {', '.join(unknown)} (choose from {', '.join(INCLUDABLE)})")
    return tuple(dict.fromkeys(names))


def _parse_mode(text: str) -> str:
    if text not in MODES:
        raise ValueError(f"{text!r} is not one of {', '.join(MODES)}")
    return text


_CONNECTION_SETTINGS = (
    Setting("url", None, "base URL of the account, e.g. https://acme.zendesk.com or http://127.0.0.1:8000",
            env="ZENDESK_URL", metavar="URL"),
    Setting("subdomain", None, "account subdomain: NAME means https://NAME.zendesk.com",
            env="ZENDESK_SUBDOMAIN", metavar="NAME"),
    Setting("email", None, "email of an admin (with --token or --password)", env="ZENDESK_EMAIL",
            metavar="E"),
    Setting("token", None, "API token (Basic auth as EMAIL/token)", env="ZENDESK_API_TOKEN", metavar="T",
            secret=True),
    Setting("password", None, "password (legacy Basic auth)", env="ZENDESK_PASSWORD", metavar="P",
            secret=True),
    Setting("oauth_token", None, "OAuth access token of an admin (Bearer auth)", env="ZENDESK_OAUTH_TOKEN",
            metavar="T", secret=True),
    Setting("host_header", None,
            "send this Host header (tunnels, proxies, local servers with several accounts)",
            env="ZENDESK_HOST_HEADER", metavar="HOST"),
)

_LOOP_SETTINGS = (
    Setting("mode", "time",
            "time: the time-based export (/incremental/tickets); cursor: the cursor-based one",
            env="ZENDESK_EXPORT_MODE", parse=_parse_mode, metavar="{time,cursor}"),
    Setting("streams", (), "what to export: a list of " + ",".join(STREAM_NAMES) + " (default: all of them)",
            env="ZENDESK_EXPORT_STREAMS", parse=parse_streams, metavar="LIST"),
    Setting("include", (), "sideloads to store beside the tickets: any of users,groups,organizations",
            env="ZENDESK_EXPORT_INCLUDE", parse=parse_include, metavar="LIST"),
    Setting("exclude_deleted", False, "leave deleted tickets out of the export",
            env="ZENDESK_EXPORT_EXCLUDE_DELETED", parse=parse_bool, switch=True),
    Setting("per_page", MAX_PER_PAGE, "tickets per page, 1-1000", env="ZENDESK_EXPORT_PER_PAGE",
            parse=bounded_int(1, MAX_PER_PAGE), metavar="N"),
    Setting("concurrency", 0, "export requests in flight at once, 1-64: the history is cut into that many windows "
            "walked side by side within the rate limit; 0 (default) chooses from the rate limit and the latency "
            "of the first page (1 when one request at a time keeps up)", env="ZENDESK_EXPORT_CONCURRENCY",
            parse=bounded_int(0, 64), metavar="N"),
    Setting("timeout", 60.0, "seconds to wait for one response before retrying it",
            env="ZENDESK_EXPORT_TIMEOUT", parse=positive_float, metavar="S"),
    Setting("retry_for", 600.0, "give up on a request that keeps failing for this many seconds",
            env="ZENDESK_EXPORT_RETRY_FOR", parse=positive_float, metavar="S"),
    Setting("no_backoff", False, "retry at once and never sleep (for tests against a local server)",
            env="ZENDESK_EXPORT_NO_BACKOFF", parse=parse_bool, switch=True),
)

EXPORT_SETTINGS: tuple[Setting, ...] = (
    *_CONNECTION_SETTINGS,
    Setting("out", "tickets.db", "where to write: tickets.db (SQLite; also .sqlite, .sqlite3, sqlite:///PATH), "
            "DIR.jsonl, DIR.parquet (needs the parquet extra; both a directory, one folder per table), "
            "postgresql://USER@HOST/DB[?schema=NAME] "
            "(needs the postgres extra); the directory of a file output must exist",
            env="ZENDESK_EXPORT_OUT", metavar="OUT"),
    Setting("start_time", 0, "first run only: export changes since EPOCH seconds or an ISO-8601 date/time; "
            "later runs resume from the output's checkpoint", env="ZENDESK_EXPORT_START_TIME",
            parse=parse_start_time, metavar="WHEN"),
    *_LOOP_SETTINGS,
)

def _parse_log_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError(f"{text!r} is not one of text, json")
    return text


#: How the export and demo commands report (not part of :class:`ExportConfig`: the library does not print).
REPORT_SETTINGS: tuple[Setting, ...] = (
    Setting("quiet", False, "print nothing but warnings and errors (no progress, no summary)",
            env="ZENDESK_EXPORT_QUIET", parse=parse_bool, switch=True),
    Setting("verbose", False, "plain progress lines even on a terminal, with the checkpoint after every page",
            env="ZENDESK_EXPORT_VERBOSE", parse=parse_bool, switch=True),
    Setting("log_format", "text", "text, or json: progress, warnings, errors and the summary as one JSON object "
            "per line on stderr (for schedulers and log collectors)", env="ZENDESK_EXPORT_LOG_FORMAT",
            parse=_parse_log_format, metavar="{text,json}"),
    Setting("summary_json", None, "also write the summary as a JSON document to FILE, or to stdout with - "
            "(the text summary then goes to stderr); on failure it holds the error and the exit code",
            env="ZENDESK_EXPORT_SUMMARY_JSON", metavar="FILE"),
)

DEMO_SETTINGS: tuple[Setting, ...] = (
    Setting("tickets", 5000, "tickets to seed the demo server with", parse=bounded_int(0, 10_000_000),
            metavar="N"),
    Setting("random_seed", 1, "seed of the synthetic tickets", parse=int, metavar="S"),
    Setting("out", "demo-tickets.db", "where to write the export (any --out of the export command)",
            metavar="OUT"),
    Setting("mode", "time", "export mode: time or cursor", parse=_parse_mode, metavar="{time,cursor}"),
    Setting("include", (), "sideloads: any of users,groups,organizations", parse=parse_include,
            metavar="LIST"),
)


def resolve(settings: Sequence[Setting], given: Mapping[str, Any],
            environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """:func:`zendesk_export.settings.resolve`, with a bad value reported as the exporter's ConfigError."""
    try:
        return resolve_settings(settings, given, environ)
    except SettingError as error:
        raise ConfigError(str(error)) from None


@dataclass(frozen=True)
class ExportConfig:
    """Everything an export needs: where the account is, how to authenticate, and how to walk the export.

    Give ``url`` (any base URL; ``http://127.0.0.1:8000`` for a local server) or ``subdomain``; and either
    ``email`` with ``token`` (recommended) or ``password``, or ``oauth_token``. ``start_time`` only seeds the
    first run of an output: later runs resume from the output's checkpoint. ``out`` is only read by the CLI
    (library users pass a sink). ``no_backoff`` makes the client retry at once, for tests.
    """

    url: str | None = None
    subdomain: str | None = None
    email: str | None = None
    token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    host_header: str | None = None
    out: str = "tickets.db"
    start_time: int = 0
    mode: str = "time"
    streams: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude_deleted: bool = False
    per_page: int = MAX_PER_PAGE
    concurrency: int = 0
    timeout: float = 60.0
    retry_for: float = 600.0
    no_backoff: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "streams", parse_streams(self.streams) if self.streams else ())
        if not set(self.include) <= set(INCLUDABLE):
            raise ConfigError(f"include {self.include!r}: choose from {', '.join(INCLUDABLE)}")
        _check_account(self)
        _check_credentials(self)
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not 0 <= self.concurrency <= 64:
            raise ConfigError(f"concurrency {self.concurrency} is not between 0 (automatic) and 64")
        if self.start_time < 0:
            raise ConfigError(f"start time {self.start_time} is before 1970")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> ExportConfig:
        """A config from keyword arguments, falling back to the ``ZENDESK_*`` environment variables."""
        return cls(**resolve(EXPORT_SETTINGS, given, environ))

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` (plus any path prefix) without a trailing slash."""
        if self.url:
            return self.url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"

    @property
    def source(self) -> str:
        """Identifies the account in checkpoints: the base URL, or the Host header when one is forced."""
        if self.host_header:
            return f"{urlsplit(self.base_url).scheme}://{self.host_header}"
        return self.base_url


def _check_account(config: ExportConfig) -> None:
    if config.url and config.subdomain:
        raise ConfigError("give --url or --subdomain, not both")
    if config.subdomain:
        if not config.subdomain.replace("-", "").isalnum():
            raise ConfigError(f"--subdomain {config.subdomain!r}: give the NAME of NAME.zendesk.com")
        return
    if not config.url:
        raise ConfigError("which account? give --url URL or --subdomain NAME "
                          "(or ZENDESK_URL/ZENDESK_SUBDOMAIN)")
    parts = urlsplit(config.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url {config.url!r} is not an http(s) URL like https://acme.zendesk.com")


def _check_credentials(config: ExportConfig) -> None:
    if config.oauth_token:
        if config.token or config.password:
            raise ConfigError("give --oauth-token or --email with --token/--password, not both")
        return
    if config.token and config.password:
        raise ConfigError("give --token or --password, not both")
    if not (config.token or config.password):
        raise ConfigError("no credentials: give --email E --token T, or --oauth-token T "
                          "(or ZENDESK_EMAIL/ZENDESK_API_TOKEN, ZENDESK_OAUTH_TOKEN)")
    if not config.email:
        raise ConfigError("--token/--password needs --email (or ZENDESK_EMAIL)")
