"""Several server processes on one port (``serve --workers N``): a pre-fork supervisor.

Why our own pre-fork rather than uvicorn's ``workers=N``: uvicorn's supervisor spawns fresh interpreters that
rebuild the app from an import string, so every setting (database URL, admin token, fault rules, rate limit)
would have to travel through the environment, and each child would migrate and check the database again. Here
the parent does everything once — opens and migrates the database, seeds, checks the demo credentials, binds,
prints the banner — then forks; each child opens its own connections (none crosses the fork: the parent closed
its store first) and runs uvicorn on its own listening socket.

One socket per process, all bound to the same port with ``SO_REUSEPORT``: the kernel spreads new connections
evenly over them. With a single shared socket, asyncio accepts up to a hundred pending connections per wake-up,
so the process that wakes first takes a whole burst of keep-alive clients and the others sit idle.

Stopping: SIGINT or SIGTERM to the parent stops every child (SIGTERM, then SIGKILL after a grace period), and
the parent alone says so. A child that ends on its own ends the server: the parent stops the others and
reports it. Children die with their parent even when it is killed outright (``PR_SET_PDEATHSIG`` on Linux, a
watcher thread elsewhere), so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["WorkerExited", "supported", "run_workers", "STOP_GRACE"]

STOP_GRACE = 10.0  # seconds a child has to finish its requests after SIGTERM before it is killed
_PR_SET_PDEATHSIG = 1


class WorkerExited(Exception):
    """A server process ended on its own; the others were stopped."""


def supported() -> bool:
    """Whether this platform can run several processes on one port (fork and SO_REUSEPORT)."""
    return hasattr(os, "fork") and hasattr(socket, "SO_REUSEPORT")


def run_workers(sockets: list[socket.socket], serve: Callable[[socket.socket], None]) -> None:
    """Fork one process per socket, each running ``serve(its socket)``; return when interrupted (SIGINT or
    SIGTERM), after every child has stopped. Raises ``WorkerExited`` if a child ends first."""
    parent, children = os.getpid(), []
    try:
        for sock in sockets:
            pid = os.fork()
            if pid == 0:
                _child(parent, sock, sockets, serve)
            children.append(pid)
    except BaseException:
        _stop(children)
        raise
    finally:
        for sock in sockets:
            sock.close()  # the children hold them now: a child that ends takes its socket out of the port's group
    _supervise(children)


def _supervise(children: list[int]) -> None:
    try:
        pid, status = os.wait()
    except KeyboardInterrupt:
        _stop(children)
        return
    children.remove(pid)
    _stop(children)
    raise WorkerExited(f"server process {pid} exited ({_describe(status)}); the others were stopped")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _stop(children: list[int]) -> None:
    """SIGTERM every child, wait for them (a second Ctrl-C does not cut this short), SIGKILL the late ones."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        waiting = set(children)
        while waiting:
            waiting = {pid for pid in waiting if not _reaped(pid)}
            if waiting and time.monotonic() > deadline:
                for pid in waiting:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.02 if waiting else 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _child(parent: int, own: socket.socket, sockets: list[socket.socket], serve: Callable[[socket.socket], None]
           ) -> None:
    """Run in the forked child; never returns."""
    code = 0
    try:
        for sock in sockets:
            if sock is not own:
                sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _interrupted)  # uvicorn stops gracefully, then raises it again: we exit quietly
        _die_with(parent)
        serve(own)
    except KeyboardInterrupt:
        pass
    except BaseException as error:  # the parent reports that a process ended; say why here
        print(f"zendesk-export: server process {os.getpid()} failed: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _die_with(parent: int) -> None:
    """Be sent SIGTERM when the parent dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):  # not Linux: watch the parent instead
        threading.Thread(target=_watch, args=(parent,), daemon=True, name="parent-watch").start()
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
