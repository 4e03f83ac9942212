"""zenpy, the Zendesk client most tests drive the server with, is installed from PyPI into a virtualenv of its
own (never a dependency of this project) and made importable here; its test modules skip when that failed."""

from __future__ import annotations

from tests.clients.venvs import add_client_to_path

#: The zenpy the server is tested with: a pinned release, so a new one cannot change the suite's verdicts.
ZENPY = "zenpy==2.0.57"
ZENPY_MISSING = add_client_to_path(ZENPY)
