"""Loaded at start-up by every Python process whose PYTHONPATH holds this folder (the client under test runs in a
virtualenv of its own). It changes where requests go and nothing else, as a DNS entry and a TLS-terminating proxy
would: a request to ``https://<account>.zendesk.com/…`` is sent to ``ZENDESK_EXPORT_REDIRECT`` (our server) with
its Host header kept and ``X-Forwarded-Proto: https``, so the server names the account and builds every link as
``https://<account>.zendesk.com/…`` — the client sees the URLs it expects. Covers requests and aiohttp, the two
HTTP libraries of the Python clients tested here (the Singer tap hard-codes Zendesk's host)."""

import os
from urllib.parse import urlsplit, urlunsplit

TARGET = urlsplit(os.environ.get("ZENDESK_EXPORT_REDIRECT", ""))


def _rewrite(url):
    """(url to connect to, Host header) for a Zendesk URL; None for any other."""
    parts = urlsplit(str(url))
    if parts.scheme != "https" or not (parts.hostname or "").endswith(".zendesk.com"):
        return None
    return urlunsplit((TARGET.scheme, TARGET.netloc, parts.path, parts.query, parts.fragment)), parts.netloc


def _patch_requests():
    try:
        from requests.adapters import HTTPAdapter
    except ImportError:
        return
    original = HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        rewritten = _rewrite(request.url)
        if rewritten is None:
            return original(self, request, *args, **kwargs)
        sent = request.copy()
        sent.url = rewritten[0]
        sent.headers["Host"], sent.headers["X-Forwarded-Proto"] = rewritten[1], "https"
        response = original(self, sent, *args, **kwargs)
        response.request, response.url = request, request.url
        return response

    HTTPAdapter.send = send


def _patch_aiohttp():
    try:
        import aiohttp
    except ImportError:
        return
    original = aiohttp.ClientSession._request

    async def _request(self, method, str_or_url, *args, **kwargs):
        rewritten = _rewrite(str_or_url)
        if rewritten is None:
            return await original(self, method, str_or_url, *args, **kwargs)
        headers = {**(kwargs.pop("headers", None) or {}), "Host": rewritten[1], "X-Forwarded-Proto": "https"}
        return await original(self, method, rewritten[0], *args, headers=headers, **kwargs)

    aiohttp.ClientSession._request = _request


if TARGET.netloc:
    _patch_requests()
    _patch_aiohttp()
