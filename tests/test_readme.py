"""The README's "Pointing other clients at the server" snippets, run as written against a real server (only its
address changes), so that they can neither drift nor hang."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from zendesk_export.testing import ZendeskServer

README = Path(__file__).resolve().parents[1] / "README.md"
DOCUMENTED_ADDRESS = "127.0.0.1:8000"


def section_blocks(language: str) -> list[str]:
    text = README.read_text()
    section = text.split("### Pointing other clients at the server", 1)[1].split("\n### ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


@pytest.fixture
def served(zendesk_server: ZendeskServer) -> ZendeskServer:
    zendesk_server.admin.seed(tickets=12, random_seed=4)
    zendesk_server.admin.advance(61)
    return zendesk_server


def run_python(block: str, server: ZendeskServer) -> list[str]:
    code = block.replace(DOCUMENTED_ADDRESS, server.url.removeprefix("http://"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    return printed.getvalue().splitlines()


def test_the_readme_shows_curl_httpx_and_zenpy():
    blocks = section_blocks("python")
    assert len(section_blocks("console")) == 1 and len(blocks) == 2
    assert "httpx.Client" in blocks[0] and "Zenpy(" in blocks[1]


def test_the_httpx_snippet_reads_a_page(served):
    assert run_python(section_blocks("python")[0], served) == ["12 True"]


def test_the_zenpy_snippet_exports_every_ticket(served, monkeypatch):
    pytest.importorskip("zenpy", reason="zenpy could not be installed into its own virtualenv (offline?)")
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.setenv(name, "restored after the test")  # the snippet sets them; monkeypatch undoes it
    lines = run_python(section_blocks("python")[1], served)
    with served.client() as client:
        body = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()
    assert sorted(lines) == sorted(f"{t['id']} {t['status']}" for t in body["tickets"])
    assert len(lines) == 12


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_snippet_returns_a_page(served):
    [block] = section_blocks("console")
    command = shlex.split(block.strip().removeprefix("$ ").replace(DOCUMENTED_ADDRESS,
                                                                     served.url.removeprefix("http://")))
    result = subprocess.run([*command, "-s", "-f"], capture_output=True, text=True, timeout=30, check=True)
    assert '"end_of_stream":true' in result.stdout.replace(" ", "")


# -- the admin API's worked example: "The third page of my export fails with a 503, then the server rate-limits me
# for 7 seconds" ---------------------------------------------------------------------------------------------------
def admin_example() -> str:
    text = README.read_text()
    section = text.split("### The admin API", 1)[1].split("\n## ", 1)[0]
    [block] = [b for b in re.findall(r"```python\n(.*?)```", section, re.DOTALL) if "def test_client_recovers" in b]
    return block


def run_my_client(url: str, email: str, token: str) -> None:
    """A client as the example imagines it: the cursor export 10 tickets a page, a 5xx retried at once, a 429
    retried after its Retry-After (really waited), until end_of_stream; it gives up after 8 requests, so that a
    server that keeps refusing fails the test instead of hanging it."""
    import time

    import httpx

    with httpx.Client(base_url=url, auth=(f"{email}/token", token), timeout=30) as client:
        params: dict[str, object] = {"start_time": 0, "per_page": 10}
        for _ in range(8):
            response = client.get("/api/v2/incremental/tickets/cursor.json", params=params)
            if response.status_code == 429:
                time.sleep(int(response.headers["retry-after"]))
                continue
            if response.status_code >= 500:
                continue
            page = response.json()
            if page["end_of_stream"]:
                return
            params = {"cursor": page["after_cursor"], "per_page": 10}
    raise AssertionError("the export did not finish in 8 requests")


@pytest.mark.slow
def test_the_client_recovers_example_keeps_its_promise(zendesk_server: ZendeskServer) -> None:
    """The example's journal is the one its comment promises (issue: it used to be 429 forever on a frozen
    clock, for a client that honours Retry-After)."""
    block = admin_example()
    promised = re.search(r"# (\[[\d, ]+\])", block)
    assert promised is not None
    namespace: dict[str, object] = {"run_my_client": run_my_client}
    exec(compile(block, str(README), "exec"), namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        namespace["test_client_recovers"](zendesk_server)  # type: ignore[operator]
    assert printed.getvalue().strip() == promised.group(1) == "[200, 200, 503, 429, 200]"
