"""The status a request was answered with, seen on its way out: what the journal and the access log record."""

from __future__ import annotations

from starlette.types import Message, Send

__all__ = ["StatusWatch"]


class StatusWatch:
    """A ``send`` that passes every message on and keeps the response's status (None until it starts)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)
