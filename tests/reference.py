"""Reference data: where it lives, and loading the responses recorded against real Zendesk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# The steering repo's reference data sits beside every clone (`../shared/reference/data`); override with an env.
REFERENCE = Path(os.environ.get("ZENDESK_EXPORT_REFERENCE", REPO.parent / "shared" / "reference" / "data"))


def reference_file(relative: str) -> Path:
    path = REFERENCE / relative
    if not path.exists():
        pytest.skip(f"reference data not found at {path} (set ZENDESK_EXPORT_REFERENCE)")
    return path


def load_reference(relative: str) -> Any:
    return json.loads(reference_file(relative).read_text())


def cassette(name: str) -> list[dict[str, Any]]:
    """A decoded zenpy cassette: a list of {request, response} recorded against real Zendesk."""
    return load_reference(f"zenpy-cassettes/decoded/{name}.decoded.json")
