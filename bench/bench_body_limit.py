"""How much memory does an oversized request cost the server? (Target: next to nothing, whoever sends it.)

Starts ``zendesk-export serve`` in its own process and sends it, without credentials, one request body of
``--megabytes`` MB with a declared ``Content-Length`` and one sent chunked (no length), then prints the answer and
the process's peak resident memory (VmHWM) after each. The server refuses both with 413 before reading them whole,
so its peak stays near its resting size; a server that reads bodies whole before it authenticates grows by the
size of the body or more.

    python bench/bench_body_limit.py --megabytes 200
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

MB = 1_000_000


def _peak_rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _chunks(megabytes: int) -> Iterator[bytes]:
    for _ in range(megabytes):
        yield b"x" * MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, "-m", "zendesk_export.cli", "serve", "--db", f"{tmp}/z.db",
                                   "--port", str(port), "--admin-token", "bench-admin-token-0123"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert server.stdout is not None
            while "curl" not in server.stdout.readline():
                pass
            url = f"http://127.0.0.1:{port}/api/v2/tickets.json"
            print(f"at rest: peak RSS {_peak_rss_mb(server.pid)} MB")
            declared = httpx.post(url, content=b"x" * (args.megabytes * MB), timeout=300)
            print(f"{args.megabytes} MB declared: {declared.status_code}, peak RSS {_peak_rss_mb(server.pid)} MB")
            chunked = httpx.post(url, content=_chunks(args.megabytes), timeout=300)
            print(f"{args.megabytes} MB chunked:  {chunked.status_code}, peak RSS {_peak_rss_mb(server.pid)} MB")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
