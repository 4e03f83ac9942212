"""Secrets kept out of everything printed, logged or journalled (shared by the server and the exporter).

A database URL may carry its password (``postgresql://user:PASSWORD@host/db``, or libpq's ``password=…``
keyword); an ``Authorization`` header carries a credential. What a user reads (a summary, an error, a banner,
the request journal) shows where and who, never the secret.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact_secrets", "redact_authorization"]

MASK = "***"

# scheme://user:PASSWORD@ — the user is kept; a password holds no '@' or '/' (URLs percent-encode them).
_URL_PASSWORD = re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*):[^@/\s'\"]*@")
# password=… in a URL query or a libpq keyword string, quoted or not.
_KEYWORD_PASSWORD = re.compile(r"(?P<keep>(?:^|(?<=[\s?&;]))password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&;'\"]*)",
                               re.IGNORECASE)
# Schemes whose name may be shown: a value that starts with anything else may be a bare secret.
_KNOWN_SCHEMES = {"basic", "bearer", "digest", "token", "negotiate", "ntlm", "hoba", "mutual", "oauth"}


def redact_secrets(text: str) -> str:
    """``text`` with every password of a URL or ``password=`` keyword replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['keep']}:{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['keep']}{MASK}", text)


def redact_authorization(authorization: str | None, basic_login: str | None = None) -> str | None:
    """An ``Authorization`` value fit to show: ``Scheme ***`` for a known scheme, ``Basic LOGIN:***`` when the
    caller decoded a Basic login (``basic_login``), and ``***`` for anything else (a bare token, an unknown
    scheme), which may be nothing but the secret."""
    if not authorization:
        return None
    scheme = authorization.strip().partition(" ")[0]
    if scheme.lower() not in _KNOWN_SCHEMES or not authorization.strip().partition(" ")[2].strip():
        return MASK
    if scheme.lower() == "basic" and basic_login is not None:
        return f"Basic {basic_login}:{MASK}"
    return f"{scheme} {MASK}"
