"""What the ``export`` and ``demo`` commands tell the user, and where: progress on stderr (a bar on a terminal,
plain timestamped lines otherwise, or one JSON object per line with ``--log-format json``), the summary on
stdout (and as JSON with ``--summary-json``), warnings and errors on stderr.

``--quiet`` keeps only warnings and errors; ``--verbose`` prints plain lines even on a terminal, with the
checkpoint after every page and every retry.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, Task, TaskProgressColumn, TextColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from zendesk_export.redaction import redact_secrets

from .export import ExportSummary, Progress
from .moments import checkpoint_moment, describe_checkpoint, duration, utc

__all__ = ["LOG_FORMATS", "Reporter", "eta_seconds", "progress_display"]

LOG_FORMATS = ("text", "json")
_MIN_FRACTION_FOR_ETA = 0.01  # below this the estimate is noise


@dataclass
class Reporter:
    """The command's voice, configured by ``--quiet``, ``--verbose``, ``--log-format`` and ``--summary-json``.
    ``kept`` is the number of tickets committed so far (what an interrupted run keeps)."""

    quiet: bool = False
    verbose: bool = False
    log_format: str = "text"
    summary_json: str | None = None
    err: TextIO = field(default_factory=lambda: sys.stderr)  # read at run time: tests and callers swap them
    out: TextIO = field(default_factory=lambda: sys.stdout)
    kept: int = 0

    @contextmanager
    def progress(self) -> Iterator[Callable[[Progress], None]]:
        """A progress callback for :func:`run_export`, torn down at the end (also on Ctrl-C)."""
        display = self._display()

        def report(event: Progress) -> None:
            if event.kind == "page":
                self.kept = event.tickets
            if display is not None:
                display(event)

        try:
            yield report
        finally:
            if display is not None:
                display.close()

    def _display(self) -> _Lines | _Bar | _JsonLines | None:
        if self.log_format == "json":
            return _JsonLines(self.err, self.quiet)
        if self.quiet:
            return None
        if self.err.isatty() and not self.verbose:
            return _Bar(Console(file=self.err))
        return _Lines(self.err, self.verbose)

    def warning(self, message: str) -> None:
        self._log("warning", "warning", message)

    def error(self, message: str, exit_code: int) -> None:
        self._log("error", "error", message, exit_code=exit_code)
        self._write_summary_json({"status": "failed", "exit_code": exit_code, "error": redact_secrets(message)})

    def summary(self, summary: ExportSummary | None, output: str, extra: list[str] | None = None,
                streams: dict[str, Any] | None = None) -> None:
        """The human summary on stdout (unless quiet, or ``--summary-json -`` takes stdout), the JSON one
        where ``--summary-json`` says. ``streams`` (a whole-account run) adds each stream's counts to the JSON
        document; ``summary`` is None when tickets were not exported."""
        output = redact_secrets(output)  # a PostgreSQL URL may hold its password
        head = summary.describe() if summary is not None else []
        lines = [*head, f"output: {output}", *(extra or [])]
        document: dict[str, Any] = summary_document(summary, output) if summary is not None else {"output": output}
        if streams is not None:
            document["streams"] = streams
        if self.log_format == "json":
            _emit_json(self.err, "info", "summary", **document)
        elif not self.quiet:
            stream = self.err if self.summary_json == "-" else self.out
            for line in lines:
                print(line, file=stream)
        self._write_summary_json({"status": "ok", **document})

    def _log(self, level: str, event: str, message: str, **fields: Any) -> None:
        message = redact_secrets(message)
        if self.log_format == "json":
            _emit_json(self.err, level, event, message=message, **fields)
        else:
            prefix = "zendesk-export: warning: " if level == "warning" else "zendesk-export: error: "
            print(prefix + message, file=self.err, flush=True)

    def _write_summary_json(self, document: dict[str, Any]) -> None:
        if self.summary_json is None:
            return
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        if self.summary_json == "-":
            self.out.write(data.decode())
            self.out.flush()
        else:
            Path(self.summary_json).write_bytes(data)


def summary_document(summary: ExportSummary, output: str) -> dict[str, Any]:
    """The summary as JSON-able data: the counts, the checkpoints with their UTC moments, the output."""
    document = summary.as_dict()
    for key in ("resumed_from", "checkpoint"):
        checkpoint = getattr(summary, key)
        if checkpoint is not None:
            moment = checkpoint_moment(checkpoint)
            document[key]["moment"] = None if moment is None else _iso(moment)
    document["output"] = output
    return document


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _emit_json(stream: TextIO, level: str, event: str, **fields: Any) -> None:
    record = {"time": _iso(time.time()), "level": level, "event": event, **fields}
    stream.write(orjson.dumps(record).decode() + "\n")
    stream.flush()


@contextmanager
def progress_display(stream: TextIO) -> Iterator[Callable[[Progress], None]]:
    """A progress callback: a rich bar when ``stream`` is a terminal, plain log lines otherwise."""
    with Reporter(err=stream).progress() as report:
        yield report


def eta_seconds(event: Progress, elapsed: float) -> float | None:
    """Seconds left at the pace so far, once a useful share of the history has been exported."""
    total, completed = _fraction(event)
    if total is None or completed is None or total <= 0:
        return None
    share = completed / total
    if share < _MIN_FRACTION_FOR_ETA or share >= 1:
        return None
    return elapsed * (1 - share) / share


class _Lines:
    """One timestamped line per page and per pause: what a log file or CI output wants; never wrapped or cut,
    whatever the width. ``verbose`` adds the checkpoint after every page."""

    def __init__(self, stream: TextIO, verbose: bool = False) -> None:
        self.stream, self.verbose, self.started = stream, verbose, time.monotonic()

    def __call__(self, event: Progress) -> None:
        if event.kind == "page":
            eta = eta_seconds(event, time.monotonic() - self.started)
            text = f"page {event.pages}: {event.tickets} tickets, {event.requests} requests{_up_to(event)}"
            text += f", about {duration(eta)} left" if eta is not None and eta >= 1 else ""
            if self.verbose and event.checkpoint is not None:
                text += f"; checkpoint {describe_checkpoint(event.checkpoint)}"
            self._line(text)
        elif event.kind == "wait" and event.wait is not None:
            self._line(f"waiting {event.wait.seconds:.1f}s: {event.wait.reason}")

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to tear down."""


class _JsonLines:
    """``--log-format json``: one object per page and per pause, for schedulers and log collectors."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream, self.quiet, self.started = stream, quiet, time.monotonic()

    def __call__(self, event: Progress) -> None:
        if self.quiet or event.kind == "done":
            return
        fields: dict[str, Any] = {"pages": event.pages, "tickets": event.tickets, "requests": event.requests,
                                  "retries": event.retries, "rate_limit_waits": event.rate_limit_waits}
        if event.reached is not None:
            fields["reached"] = _iso(event.reached)
        eta = eta_seconds(event, time.monotonic() - self.started)
        if eta is not None:
            fields["eta_seconds"] = round(eta, 1)
        if event.wait is not None:
            fields.update(wait_seconds=round(event.wait.seconds, 3), reason=event.wait.reason)
        _emit_json(self.stream, "info", event.kind, **fields)

    def close(self) -> None:
        """Nothing to tear down."""


def _up_to(event: Progress) -> str:
    """How far the exported timestamps have come, once the server's clock is known."""
    if event.reached is None or event.target is None:
        return ""
    return f", up to {utc(event.reached)}"


class _Countdown(ProgressColumn):
    """The pause in progress, counting down while the client sleeps (the bar refreshes itself meanwhile)."""

    def render(self, task: Task) -> Text:
        until = task.fields.get("wait_until")
        if until is None:
            return Text(str(task.fields.get("state", "exporting")))
        left = max(0.0, until - time.monotonic())
        return Text(f"waiting {duration(left) if left >= 1 else f'{left:.1f}s'} ({task.fields['reason']})",
                    style="yellow")


class _Eta(ProgressColumn):
    def render(self, task: Task) -> Text:
        eta = task.fields.get("eta")
        return Text(f"ETA {duration(eta)}" if eta is not None else "ETA …", style="cyan")


class _Bar:
    """A rich progress bar: how far the exported timestamps have come towards the server's "now - 1 min",
    with tickets, pages, rate, an ETA, and a countdown during a pause. The bar stays during pauses."""

    def __init__(self, console: Console) -> None:
        self.started = time.monotonic()
        self.progress = RichProgress(
            SpinnerColumn(), _Countdown(), BarColumn(), TaskProgressColumn(), _Eta(),
            TextColumn("{task.fields[stats]}"), console=console, transient=False)
        self.task = self.progress.add_task("exporting", total=None, stats="", wait_until=None, reason="",
                                           eta=None)
        self.progress.start()

    def __call__(self, event: Progress) -> None:
        elapsed = time.monotonic() - self.started
        rate = event.tickets / max(elapsed, 1e-6)
        stats = (f"{event.tickets:,} tickets · {event.pages} pages · {rate:,.0f}/s · "
                 f"{event.rate_limit_waits} rate-limit waits")
        waiting = event.kind == "wait" and event.wait is not None
        fields: dict[str, Any] = {"stats": stats, "wait_until": None, "reason": ""}
        if waiting and event.wait is not None:
            fields.update(wait_until=time.monotonic() + event.wait.seconds, reason=event.wait.reason)
        else:
            fields["eta"] = eta_seconds(event, elapsed)
        total, completed = _fraction(event)
        if total is not None:  # keep the last known extent during pauses: the bar never vanishes
            self.progress.update(self.task, total=total, completed=completed)
        self.progress.update(self.task, **fields, refresh=True)

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
