"""Who is calling: the account from the Host header, the user from the Authorization header.

Order matches Zendesk: an unknown account is a 404 before credentials are looked at; then 401; then 403.
Accepted credentials: Basic ``email/token:TOKEN``, Basic ``email:password``, and ``Bearer`` OAuth tokens.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from functools import lru_cache

from zendesk_export.server.errors import CouldNotAuthenticate, Forbidden, InvalidToken, NoHelpDesk
from zendesk_export.server.store import Account, Store, User, verify_secret

__all__ = ["subdomain_of", "resolve_account", "authenticate"]


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


def authenticate(store: Store, account: Account, authorization: str | None, *, admin: bool = False) -> User:
    """The calling user, or the Zendesk error for missing/wrong credentials or insufficient role."""
    user = _user_from_header(store, account, authorization or "")
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
    except (binascii.Error, UnicodeDecodeError):
        raise CouldNotAuthenticate() from None
    email, kind = (login[: -len("/token")], "api_token") if login.endswith("/token") else (login, "password")
    user = store.user_by_email(account.id, email)
    if user is None or not any(_verified(secret, h) for h in store.secret_hashes(account.id, user.id, kind)):
        raise CouldNotAuthenticate()
    return user


@lru_cache(maxsize=1024)
def _verified(secret: str, stored_hash: str) -> bool:
    # Password hashes are deliberately slow (PBKDF2); a client sends the same header on every request, so the
    # verdict for a (secret, hash) pair is remembered. A changed credential has a new hash, so this never
    # accepts a revoked secret.
    return verify_secret(secret, stored_hash)
