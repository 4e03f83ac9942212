"""HTTP handlers of the incremental exports (tickets, ticket events, users, organizations): authorise the caller,
then let ``export`` build the page. One handler per (feed, style): time-based, cursor-based, sample."""

from __future__ import annotations

from starlette.responses import Response

from zendesk_export.server.export.feeds import ExportQuery, Feed, cursor_export, time_export
from zendesk_export.server.export.resources import ORGANIZATIONS, TICKET_EVENTS, TICKETS, USERS
from zendesk_export.server.http import Call, Handler, raw_json

__all__ = ["ROUTES"]


def _query(call: Call) -> ExportQuery:
    return ExportQuery(call.ctx.store, call.account, call.base_url, call.params, call.params.multi_items(),
                       call.time())


def _export(feed: Feed, style: str) -> Handler:
    def handler(call: Call) -> Response:
        call.caller(admin=True)
        if style == "cursor":
            return raw_json(cursor_export(_query(call), feed))
        return raw_json(time_export(_query(call), feed, sample=style == "sample"))

    handler.__name__ = f"incremental_{feed.key}_{style}"
    return handler


def _routes(feed: Feed, *styles: str) -> list[tuple[str, str, Handler]]:
    suffix = {"time": "", "cursor": "/cursor", "sample": "/sample"}
    return [("GET", feed.path + suffix[style], _export(feed, style)) for style in styles]


ROUTES: list[tuple[str, str, Handler]] = [
    *_routes(TICKETS, "time", "cursor", "sample"),
    *_routes(TICKET_EVENTS, "time", "sample"),
    *_routes(USERS, "time", "cursor", "sample"),
    *_routes(ORGANIZATIONS, "time", "sample"),
]
