"""Moments as people read them: UTC dates for epochs, and the moment a checkpoint stands for.

A time-based checkpoint is an epoch; a cursor is opaque by contract, but Zendesk's (and our server's) is
``base64("<timestamp>.0||<id>|")``, so its moment can usually be shown; when it cannot, the cursor is shown as
it is.
"""

from __future__ import annotations

import base64
import binascii
import re
import time

from .sinks.base import Checkpoint
from .windows import Plan, windows_summary

__all__ = ["checkpoint_moment", "describe_checkpoint", "duration", "utc"]

_CURSOR = re.compile(r"^(\d{1,12})(?:\.\d+)?\|\|\d+\|$")


def utc(epoch: float) -> str:
    """``2024-01-31 12:00:00 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``: short enough for a progress line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def checkpoint_moment(checkpoint: Checkpoint) -> int | None:
    """The epoch a checkpoint resumes from, or None when it cannot be told (an unfamiliar cursor). For an
    export in concurrent windows: where its earliest unfinished window stands."""
    plan = Plan.of(checkpoint)
    if plan is not None:
        window = plan.windows[(plan.pending() or [-1])[0]]
        origin = window.origin(plan.mode, plan.source)
        return origin if isinstance(origin, int) else checkpoint_moment(origin)
    if checkpoint.mode == "time":
        return int(checkpoint.position) if checkpoint.position.isascii() and checkpoint.position.isdigit() else None
    text = checkpoint.position.replace(" ", "+").replace("-", "+").replace("_", "/").rstrip("=")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _CURSOR.match(decoded)
    return int(match.group(1)) if match else None


def describe_checkpoint(checkpoint: Checkpoint) -> str:
    """``2024-01-31 12:00:00 UTC`` for a checkpoint whose moment is known, else ``cursor <position>``."""
    moment = checkpoint_moment(checkpoint)
    plan = Plan.of(checkpoint)
    if plan is not None:
        return f"{utc(moment) if moment is not None else 'an unknown moment'} ({windows_summary(plan.windows)})"
    if moment is None:
        return f"{checkpoint.mode} position {checkpoint.position}"
    return utc(moment)
