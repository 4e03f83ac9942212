"""Running the server: in the foreground (``serve``) or in a background thread (tests, ``demo``)."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from zendesk_export.clock import Clock
from zendesk_export.redaction import redact_secrets
from zendesk_export.server.app import create_app
from zendesk_export.server.edge.faults import load_rules_file
from zendesk_export.server.http import ServerConfig
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store import Store, open_store
from zendesk_export.settings import parse_admin_token

__all__ = ["RunningServer", "start_server", "running_server", "serve", "is_loopback", "DemoCredentialsExposed",
           "CannotListen"]


class DemoCredentialsExposed(Exception):
    """Refusing a non-loopback host while the documented demo credentials still work."""


class CannotListen(Exception):
    """The host and port cannot be bound (in use, not an address of this machine, a privileged port)."""


@dataclass
class RunningServer:
    url: str
    admin_token: str
    store: Store
    clock: Clock
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.store.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _prepare(db: str, host: str, seed: int, random_seed: int) -> tuple[Store, Clock]:
    store = open_store(db)
    if not is_loopback(host) and store.demo_credentials_active():
        store.close()
        raise DemoCredentialsExposed(
            f"refusing to listen on {host}: the published demo credentials (admin@example.com with demo-token, "
            "demo-oauth-token or demo-password) still log in; use --host 127.0.0.1, or a database without them"
        )
    clock = Clock()
    if seed:
        account = store.account(None)
        assert account is not None
        seed_account(store, account.id, seed, random_seed, clock.now())
    return store, clock


def _admin_token(given: str | None) -> str:
    """The admin token given (ValueError if shorter than 16 characters), else a random one."""
    return parse_admin_token(given) if given else secrets.token_urlsafe(24)


def _bind(host: str, port: int) -> socket.socket:
    """Bind and listen before starting uvicorn: the real port (also for --port 0) is known and printed, and a
    client that connects at once waits in the backlog instead of being refused."""
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response (headers and body are two writes) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def _bind_or_close(store: Store, host: str, port: int) -> socket.socket:
    try:
        return _bind(host, port)
    except CannotListen:
        store.close()
        raise


def _uvicorn(store: Store, clock: Clock, config: ServerConfig, host: str, port: int) -> uvicorn.Server:
    app = create_app(config, store, clock)
    # No uvicorn Date header: ZendeskHeaders sends one from the server clock.
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                         date_header=False, lifespan="off", timeout_graceful_shutdown=1))


def start_server(db: str, *, host: str = "127.0.0.1", port: int = 0, admin_token: str | None = None,
                 rate_limit: str = "on", seed: int = 0, random_seed: int = 0,
                 faults: list[dict[str, Any]] | None = None) -> RunningServer:
    """Start a server in a daemon thread; returns once it accepts connections. ``faults``: rules active from
    the start (as for ``PUT /__admin/faults``)."""
    config = ServerConfig(admin_token=_admin_token(admin_token), rate_limit=rate_limit, faults=list(faults or []))
    store, clock = _prepare(db, host, seed, random_seed)
    sock = _bind_or_close(store, host, port)
    server = _uvicorn(store, clock, config, host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="zendesk-server")
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server thread stopped during start-up")
        time.sleep(0.01)
    bound_port = sock.getsockname()[1]
    return RunningServer(f"http://{host}:{bound_port}", config.admin_token, store, clock, server, thread)


@contextlib.contextmanager
def running_server(db: str, **options: object) -> Iterator[RunningServer]:
    server = start_server(db, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def serve(db: str, *, host: str, port: int, admin_token: str | None, rate_limit: str, seed: int,
          random_seed: int, banner: Callable[[str], object] = print, faults: str | None = None) -> None:
    """Run in the foreground until interrupted, after printing how to reach the server. ``faults``: a JSON
    file of fault rules active from the start (raises ``FaultRuleError`` if it cannot be used)."""
    rules = load_rules_file(faults) if faults else []
    config = ServerConfig(admin_token=_admin_token(admin_token), rate_limit=rate_limit, faults=rules)
    store, clock = _prepare(db, host, seed, random_seed)
    sock = _bind_or_close(store, host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    banner(_banner(url, db, config, store))
    _uvicorn(store, clock, config, host, port).run(sockets=[sock])


def _banner(url: str, db: str, config: ServerConfig, store: Store) -> str:
    lines = [f"zendesk-export server on {url}  (database: {redact_secrets(db)})"]
    if store.demo_credentials_active():
        lines += [
            "  account   example (default; any other subdomain: Host: NAME.localhost)",
            "  admin     admin@example.com  token demo-token  password demo-password  oauth demo-oauth-token",
            "  agent     agent@example.com  token agent-token  (not an admin: exports answer 403)",
        ]
    lines += [
        f"  admin API {url}/__admin/  Authorization: Bearer {config.admin_token}",
        f"  rate limit {config.rate_limit}",
        "try:",
        f'  curl -u admin@example.com:demo-password -G -d "start_time=0" -H "Accept: application/json" '
        f"{url}/api/v2/incremental/tickets",
    ]
    return "\n".join(lines)
