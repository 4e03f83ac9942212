"""The exporter: every ticket that changed in a Zendesk account, none lost, none doubled, resumable.

From Python (Airflow, Dagster, Prefect, a notebook)::

    from zendesk_export.exporter import ExportConfig, iter_tickets, run_export

    config = ExportConfig(subdomain="acme", email="admin@acme.com", token="…")   # or ExportConfig.from_env()
    summary = run_export(config, "tickets.db")      # resumes from the output's checkpoint on every call
    print(summary.new, summary.updated, summary.deleted)

    for ticket in iter_tickets(config, start_time=1700000000):   # no output: just the tickets
        ...

Errors are the classes of :mod:`zendesk_export.exporter.errors`; each carries the CLI's ``exit_code``.
"""

from .client import ClientStats, RetryPolicy, Wait, ZendeskClient
from .engine import RunSummary, StreamResult, run_streams
from .errors import (
    AccessError,
    AccountNotFound,
    ApiError,
    AuthenticationFailed,
    CheckpointMismatch,
    ConfigError,
    ExportError,
    ExportStuck,
    GaveUp,
    MalformedPage,
    MissingExtra,
    OutputError,
    PermissionDenied,
    TooRecentStartTime,
    Unreachable,
)
from .export import ExportPage, ExportSummary, Progress, iter_pages, iter_tickets, run_export
from .settings import ExportConfig

__all__ = [
    "AccessError",
    "AccountNotFound",
    "ApiError",
    "AuthenticationFailed",
    "CheckpointMismatch",
    "ClientStats",
    "ConfigError",
    "ExportConfig",
    "ExportError",
    "ExportPage",
    "ExportStuck",
    "ExportSummary",
    "RunSummary",
    "StreamResult",
    "GaveUp",
    "MalformedPage",
    "MissingExtra",
    "OutputError",
    "PermissionDenied",
    "Progress",
    "RetryPolicy",
    "TooRecentStartTime",
    "Unreachable",
    "Wait",
    "ZendeskClient",
    "iter_pages",
    "iter_tickets",
    "run_export",
    "run_streams",
]
