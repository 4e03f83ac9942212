"""Real clients installed from PyPI, each in a virtualenv of its own (never a dependency of this project).

The virtualenvs are kept between runs under ``ZENDESK_EXPORT_CLIENT_VENVS`` (default
``~/.cache/zendesk-export/clients``), one per pinned requirement; a test that cannot install its client (no
network) is skipped with the reason."""

from __future__ import annotations

import fcntl
import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("ZENDESK_EXPORT_CLIENT_VENVS", Path.home() / ".cache" / "zendesk-export" / "clients"))


def client_venv(name: str, requirement: str) -> Path:
    """A virtualenv holding ``requirement``; made (once) on first use. Skips the calling test when it cannot be
    installed."""
    venv = _installed_venv(requirement)
    if isinstance(venv, str):
        pytest.skip(f"cannot install {name} from PyPI (offline?): {venv}")
    return venv


def add_client_to_path(requirement: str) -> str | None:
    """Make a client importable in this process from its own virtualenv (appended to ``sys.path``, so this
    project's own packages still win). None when done, else why it could not be installed; a test module then
    skips with ``pytest.importorskip``."""
    venv = _installed_venv(requirement)
    if isinstance(venv, str):
        return venv
    [site_packages] = (venv / "lib").glob("python*/site-packages")
    site.addsitedir(str(site_packages))
    return None


def _installed_venv(requirement: str) -> Path | str:
    """The virtualenv holding ``requirement``, or the tail of pip's error when it cannot be installed. Parallel
    test workers wait for each other on a lock file, so one installs and the others find it done."""
    venv = ROOT / re.sub(r"[^A-Za-z0-9.]+", "-", requirement)
    done = venv / ".installed"
    if done.exists():
        return venv
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return venv if done.exists() else _install(venv, requirement)


def _install(venv: Path, requirement: str) -> Path | str:
    done = venv / ".installed"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
                               capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:
        return installed.stderr.strip()[-300:]
    done.touch()
    return venv
