"""Who is calling: the account from the Host header, the user from the Authorization header.

Order matches Zendesk: an unknown account is a 404 before credentials are looked at; then 401; then 403.
Accepted credentials: Basic ``email/token:TOKEN``, Basic ``email:password``, and ``Bearer`` OAuth tokens, each
looked up in the request's account only (user ids restart at 1 in every account).

Checking a password costs the same whether the email exists or not (a dummy hash is verified for an unknown
user), so timing does not tell which emails exist; and a client address that keeps failing is throttled
(``LoginThrottle``) before any hash is computed, so wrong passwords cannot keep the server's CPUs busy.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable
from functools import cache, lru_cache

from zendesk_export.server.errors import CouldNotAuthenticate, Forbidden, InvalidToken, NoHelpDesk, RateLimitExceeded
from zendesk_export.server.store import Account, Store, User, hash_password, verify_password

__all__ = ["subdomain_of", "resolve_account", "authenticate", "LoginThrottle", "FAILED_LOGINS", "THROTTLE_WINDOW"]

FAILED_LOGINS = 20  # failed logins of one client address in one account, per window, before it is throttled
THROTTLE_WINDOW = 60.0  # seconds


def subdomain_of(host: str) -> str | None:
    """`acme.localhost:8000` → `acme`; a bare IP or `localhost` → None (the default account)."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    name = name.strip("[]").lower()
    if name in ("", "localhost"):
        return None
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    return name.split(".", 1)[0]


def resolve_account(store: Store, host: str) -> Account:
    subdomain = subdomain_of(host)
    account = store.account(subdomain)
    if account is None:
        raise NoHelpDesk(subdomain or "localhost")
    return account


class LoginThrottle:
    """Failed logins per (account, client address) in fixed windows of real time (not the server clock, which a
    test may freeze). Once ``limit`` failures are counted in a window, every login from that address to that
    account is refused until the window ends, right credentials included: the answer (429) costs no hashing.
    Thread-safe; in the memory of the process (a throttle slows one attacker, it needs no sharing)."""

    def __init__(self, limit: int = FAILED_LOGINS, window: float = THROTTLE_WINDOW,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._now = limit, window, monotonic
        self._failures: dict[tuple[int, str], tuple[float, int]] = {}  # key → (window start, failures)
        self._lock = threading.Lock()

    def retry_after(self, account_id: int, client: str) -> int | None:
        """Seconds until the address may try again, or None when it is not throttled."""
        with self._lock:
            start, count = self._current((account_id, client))
        return max(1, math.ceil(start + self.window - self._now())) if count >= self.limit else None

    def failed(self, account_id: int, client: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # bounded: forget the windows that are over
                self._failures = {k: v for k, v in self._failures.items() if self._now() - v[0] < self.window}
            start, count = self._current((account_id, client))
            self._failures[(account_id, client)] = (start, count + 1)

    def clear(self, account_id: int) -> None:
        """Forget an account's failures (``POST /__admin/reset``)."""
        with self._lock:
            self._failures = {k: v for k, v in self._failures.items() if k[0] != account_id}

    def _current(self, key: tuple[int, str]) -> tuple[float, int]:
        now = self._now()
        start, count = self._failures.get(key, (now, 0))
        return (start, count) if now - start < self.window else (now, 0)


def authenticate(store: Store, account: Account, authorization: str | None, *, admin: bool = False,
                 client: str = "", throttle: LoginThrottle | None = None) -> User:
    """The calling user, or the Zendesk error for missing/wrong credentials or insufficient role. With a
    ``throttle``, failed credentials from ``client`` (its address) are counted, and a throttled address gets a
    429 before its credentials are looked at."""
    if throttle is not None and authorization:
        wait = throttle.retry_after(account.id, client)
        if wait is not None:
            raise RateLimitExceeded(wait, f"Too many failed login attempts from this address; retry in {wait} "
                                    "seconds")
    try:
        user = _user_from_header(store, account, authorization or "")
    except (CouldNotAuthenticate, InvalidToken):
        if throttle is not None and authorization:
            throttle.failed(account.id, client)
        raise
    if admin and not user.is_admin:
        raise Forbidden()
    if user.role == "end-user":
        raise Forbidden()
    return user


def _user_from_header(store: Store, account: Account, header: str) -> User:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        user = store.user_by_oauth_token(account.id, credentials.strip())
        if user is None:
            raise InvalidToken()
        return user
    if scheme.lower() != "basic":
        raise CouldNotAuthenticate()
    try:
        login, _, secret = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: non-ASCII text, e.g. `Basic é`
        raise CouldNotAuthenticate() from None
    email, kind = (login[: -len("/token")], "api_token") if login.endswith("/token") else (login, "password")
    user = store.user_by_email(account.id, email)
    hashes = store.secret_hashes(account.id, user.id, kind) if user is not None else []
    if kind == "api_token":
        digest = store.token_hash(secret)
        accepted = any(hmac.compare_digest(digest, h) for h in hashes)
    else:  # one PBKDF2 whether or not the user exists or has a password: the time tells nothing
        accepted = any([_verified(secret, h) for h in hashes or [_dummy_password_hash()]]) and bool(hashes)
    if user is None or not accepted:
        raise CouldNotAuthenticate()
    return user


@cache
def _dummy_password_hash() -> str:
    """A password hash no secret matches (its password is random and forgotten), verified for unknown users."""
    return hash_password(secrets.token_urlsafe(32))


@lru_cache(maxsize=1024)
def _verified(secret: str, stored_hash: str) -> bool:
    # Password hashes are deliberately slow (PBKDF2); a client sends the same header on every request, so the
    # verdict for a (secret, hash) pair is remembered. A changed credential has a new hash, so this never
    # accepts a revoked secret.
    return verify_password(secret, stored_hash)
