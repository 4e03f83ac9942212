"""Real clients installed from PyPI, each in a virtualenv of its own (never a dependency of this project).

The virtualenvs are kept between runs under ``ZENDESK_EXPORT_CLIENT_VENVS`` (default
``~/.cache/zendesk-export/clients``), one per pinned requirement; a test that cannot install its client (no
network) is skipped with the reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("ZENDESK_EXPORT_CLIENT_VENVS", Path.home() / ".cache" / "zendesk-export" / "clients"))


def client_venv(name: str, requirement: str) -> Path:
    """A virtualenv holding ``requirement``; made (once) on first use."""
    venv = ROOT / re.sub(r"[^A-Za-z0-9.]+", "-", requirement)
    done = venv / ".installed"
    if done.exists():
        return venv
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
                               capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:
        pytest.skip(f"cannot install {name} from PyPI (offline?): {installed.stderr.strip()[-300:]}")
    done.touch()
    return venv
