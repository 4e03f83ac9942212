"""The exporter's errors: one class per thing the user has to fix, each with the exit code the CLI returns.

Every message is one line that says what went wrong *and* what to do about it; the CLI prints
``zendesk-export: error: <message>`` and exits with :attr:`ExportError.exit_code`, never with a traceback.

Exit codes (also in ``zendesk-export export --help``):

====  =====================================================================================================
0     success (including "nothing new yet")
1     the API or the network failed: retries exhausted, unexpected answer, an export that cannot advance
2     usage: bad or missing option, unparseable ``--start-time``, a checkpoint from another account or mode
3     access: wrong credentials (401), not an admin (403), no such account (404 "No help desk")
4     output: the output cannot be opened or written
130   interrupted (Ctrl-C); the output keeps every page written so far and the next run resumes
====  =====================================================================================================
"""

from __future__ import annotations

__all__ = [
    "EXIT_ACCESS",
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "AccessError",
    "AccountNotFound",
    "ApiError",
    "AuthenticationFailed",
    "CheckpointMismatch",
    "ConfigError",
    "ExportError",
    "ExportStuck",
    "GaveUp",
    "MalformedPage",
    "MissingExtra",
    "OutputError",
    "PermissionDenied",
    "TooRecentStartTime",
    "Unreachable",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_ACCESS = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130


class ExportError(Exception):
    """Base class: an export could not be done; ``str(error)`` is the one-line message for the user."""

    exit_code = EXIT_API


class ConfigError(ExportError):
    """An option is missing, malformed or contradicts another one."""

    exit_code = EXIT_USAGE


class CheckpointMismatch(ConfigError):
    """The output's checkpoint belongs to another account or another mode; resuming would mix two exports."""


class MissingExtra(ConfigError):
    """The chosen output needs an optional package (pyarrow, psycopg) that is not installed; the message names
    the pip extra. A usage error: the command cannot work as given on this installation."""


class OutputError(ExportError):
    """The output (file, directory, database) cannot be opened or written."""

    exit_code = EXIT_OUTPUT


class ApiError(ExportError):
    """Zendesk answered with an error that retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AccessError(ApiError):
    """The credentials or the account are wrong: nothing to retry, the user has to change the command."""

    exit_code = EXIT_ACCESS


class AuthenticationFailed(AccessError):
    """401: the email/token, password or OAuth token was not accepted."""


class PermissionDenied(AccessError):
    """403: the user is authenticated but is not allowed to use the incremental export (admins only)."""


class AccountNotFound(AccessError):
    """404 "No help desk at …": there is no Zendesk account at this address."""


class TooRecentStartTime(ApiError):
    """400/422 "Too recent start_time": the export has caught up; the loop treats it as "nothing new"."""


class GaveUp(ApiError):
    """A request kept failing (5xx, timeouts, dropped connections, 429s) for longer than the retry budget."""


class ExportStuck(ApiError):
    """The export stopped advancing (empty pages that are not the end of the stream, or a time-based page
    that cannot move past one second)."""


class Unreachable(ApiError):
    """The very first request could not connect (refused, or the host name does not resolve): a wrong
    ``--url``/``--subdomain`` or a server that is not running. Reported within seconds; once the export has
    had an answer, connection failures are retried for the whole ``retry_for`` window instead."""


class MalformedPage(ApiError):
    """A page that is JSON but not an export page we can store: a ticket that is not an object, an id that is
    not an integer, a missing ``generated_timestamp``. Retrying would get the same page, so the export stops
    before writing it; the message names the request."""
