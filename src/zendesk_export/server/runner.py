"""Running the server: in the foreground (``serve``) or in a background thread (tests, ``demo``)."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from zendesk_export.clock import Clock, ClockState
from zendesk_export.redaction import redact_secrets
from zendesk_export.server.app import create_app
from zendesk_export.server.edge.accesslog import AccessLog
from zendesk_export.server.edge.faults import load_rules_file
from zendesk_export.server.http import ServerConfig
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store import Store, open_store
from zendesk_export.server.workers import WorkerExited, run_workers, supported
from zendesk_export.settings import parse_admin_token

__all__ = ["RunningServer", "start_server", "running_server", "serve", "is_loopback", "DemoCredentialsExposed",
           "account_clock", "CannotListen", "WorkerExited"]


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


def account_clock(store: Store, subdomain: str | None = None) -> Clock:
    """The clock of an account (default: the default account), read from and written to the store: what the
    admin API's ``/__admin/clock`` does, in-process."""
    account = store.account(subdomain)
    if account is None:
        raise LookupError(f"no account {subdomain!r}")

    def load() -> ClockState:
        current = store.account(account.subdomain)
        return current.clock if current is not None else ClockState()

    return Clock(load=load, change=lambda change: store.change_clock(account.id, change))


def _prepare(db: str, host: str, seed: int, random_seed: int,
             report: Callable[[str], object] = lambda line: None) -> tuple[Store, Clock]:
    store = open_store(db)
    if not is_loopback(host) and store.demo_credentials_active():
        store.close()
        raise DemoCredentialsExposed(
            f"refusing to listen on {host}: the published demo credentials (admin@example.com with demo-token, "
            "demo-oauth-token or demo-password) still log in; use --host 127.0.0.1, or a database without them"
        )
    clock = account_clock(store)
    if seed:
        _seed_if_empty(store, clock, seed, random_seed, report)
    return store, clock


SEED_PROGRESS = 10_000  # tickets between two progress lines of a seed


def _seed_if_empty(store: Store, clock: Clock, tickets: int, random_seed: int, report: Callable[[str], object]) -> None:
    """``--seed N`` fills an empty default account; an account that holds tickets is left as it is, so that
    restarting the same command does not add N more every time."""
    account = store.account(None)
    assert account is not None
    held = store.ticket_count(account.id)
    if held:
        report(f"--seed {tickets} skipped: account {account.subdomain} already holds {held} tickets")
        return
    started = time.monotonic()

    reported = 0

    def progress(done: int) -> None:
        nonlocal reported
        if done // SEED_PROGRESS > reported // SEED_PROGRESS:
            report(f"seeding account {account.subdomain}: {done // SEED_PROGRESS * SEED_PROGRESS}/{tickets} "
                   f"tickets ({time.monotonic() - started:.0f}s)")
        reported = done

    seed_account(store, account.id, tickets, random_seed, clock.now(), progress)


def _admin_token(given: str | None) -> str:
    """The admin token given (ValueError if shorter than 16 characters), else a random one."""
    return parse_admin_token(given) if given else secrets.token_urlsafe(24)


def _bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind and listen before starting uvicorn: the real port (also for --port 0) is known and printed, and a
    client that connects at once waits in the backlog instead of being refused. ``reuse_port``: one of several
    sockets on the same port, one per server process (``workers``)."""
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response (headers and body are two writes) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def _bind_or_close(store: Store, host: str, port: int, count: int = 1) -> list[socket.socket]:
    """One listening socket, or ``count`` on the same port for as many server processes."""
    sockets: list[socket.socket] = []
    try:
        sockets.append(_bind(host, port, reuse_port=count > 1))
        while len(sockets) < count:
            sockets.append(_bind(host, sockets[0].getsockname()[1], reuse_port=True))
    except CannotListen:
        for sock in sockets:
            sock.close()
        store.close()
        raise
    return sockets


def _uvicorn(store: Store, clock: Clock, config: ServerConfig, host: str, port: int,
             access_log: Callable[[str], object] | None = None) -> uvicorn.Server:
    app: ASGIApp = create_app(config, store, clock.wall)
    if access_log is not None:
        app = AccessLog(app, access_log)
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
    sock, = _bind_or_close(store, host, port)
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
          random_seed: int, banner: Callable[[str], object] = print, faults: str | None = None,
          quiet: bool = False, log: Callable[[str], object] | None = None, workers: int = 1) -> None:
    """Run in the foreground until interrupted, after printing how to reach the server, then say it stopped.
    ``faults``: a JSON file of fault rules active from the start (raises ``FaultRuleError`` if it cannot be
    used). ``log`` gets seeding progress and one access-log line per request (default: stderr); ``quiet``
    keeps both out. ``workers``: server processes sharing the port and the database (``workers.py``); raises
    ``WorkerExited`` if one of them ends on its own."""
    if workers > 1 and not supported():
        raise CannotListen("--workers above 1 needs fork and SO_REUSEPORT (Linux, macOS, BSD)")
    rules = load_rules_file(faults) if faults else []
    config = ServerConfig(admin_token=_admin_token(admin_token), rate_limit=rate_limit, faults=rules,
                          shared_state=workers > 1)
    write = None if quiet else (log or _stderr)
    store, clock = _prepare(db, host, seed, random_seed, write or (lambda line: None))
    sockets = _bind_or_close(store, host, port, workers)
    url = f"http://{host}:{sockets[0].getsockname()[1]}"
    banner(_banner(url, db, config, store, workers))
    _stop_on_sigterm()
    try:
        if workers == 1:
            _uvicorn(store, clock, config, host, port, write).run(sockets=sockets)
        else:
            store.close()  # no connection may cross the fork: each process opens its own
            run_workers(sockets, lambda sock: _serve_process(db, config, host, port, write, sock))
    finally:
        store.close()
        banner(f"zendesk-export server on {url} stopped")


def _serve_process(db: str, config: ServerConfig, host: str, port: int, write: Callable[[str], object] | None,
                   sock: socket.socket) -> None:
    """One of ``serve --workers N``'s processes: its own store connections, the shared configuration."""
    store = open_store(db)
    try:
        _uvicorn(store, account_clock(store), config, host, port, write).run(sockets=[sock])
    finally:
        store.close()


def _stop_on_sigterm() -> None:
    """SIGTERM stops ``serve`` as Ctrl-C does, saying so: uvicorn shuts down on either, then raises the signal
    again with the handler it found, which must not be the default one that ends the process on the spot."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupted)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _banner(url: str, db: str, config: ServerConfig, store: Store, workers: int = 1) -> str:
    lines = [f"zendesk-export server on {url}  (database: {redact_secrets(db)})"]
    default = store.account(None)
    assert default is not None
    others = len(store.accounts()) - 1
    held = f"{store.ticket_count(default.id)} tickets"
    reach = "other accounts: Host: NAME.localhost or /__account/NAME/"
    lines.append(f"  account   {default.subdomain} (default; {held}; "
                 f"{f'{others} more account(s), ' if others else ''}{reach})")
    if store.demo_credentials_active():
        lines += [
            "  admin     admin@example.com  token demo-token  password demo-password  oauth demo-oauth-token",
            "  agent     agent@example.com  token agent-token  (not an admin: exports answer 403)",
        ]
    lines += [
        f"  admin API {url}/__admin/  Authorization: Bearer {config.admin_token}",
        f"  rate limit {config.rate_limit}",
        *([f"  workers   {workers} processes on one port and one database"] if workers > 1 else []),
        "try:",
        f'  curl -u admin@example.com:demo-password -G -d "start_time=0" -H "Accept: application/json" '
        f"{url}/api/v2/incremental/tickets",
    ]
    return "\n".join(lines)
