"""The recorded Zendesk responses the tests replay, kept in the repository under ``tests/recordings``.

Their origin is in ``tests/recordings/README.md``. A missing file is an error, never a skip: the contract tests
are only worth anything if they always run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def reference_file(relative: str) -> Path:
    path = RECORDINGS / relative
    if not path.is_file():
        raise FileNotFoundError(f"recorded response {relative!r} is missing from {RECORDINGS}")
    return path


def load_reference(relative: str) -> Any:
    return json.loads(reference_file(relative).read_text())


def cassette(name: str) -> list[dict[str, Any]]:
    """A decoded zenpy cassette: a list of {request, response} recorded against real Zendesk."""
    return load_reference(f"zenpy-cassettes/decoded/{name}.decoded.json")
