"""The ASGI app, composed: the API's route tables, the admin table, and the middleware in their order.

Nothing else lives here: handlers are in ``api`` and ``admin``, the kernel they stand on in ``http``, what
happens around a route in ``edge``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from zendesk_export.server.admin import routes as admin
from zendesk_export.server.admin.guard import AdminGuard
from zendesk_export.server.api import exports, jobs, resources, search, ticket_data, tickets, users
from zendesk_export.server.edge.accounts import AccountScope
from zendesk_export.server.edge.failsafe import Failsafe
from zendesk_export.server.edge.faults import FaultInjectors, Faults, hide_injected_drops
from zendesk_export.server.edge.headers import ZendeskHeaders
from zendesk_export.server.edge.journal import JournalMiddleware, Journals, SharedJournals
from zendesk_export.server.edge.limits import BodyLimit
from zendesk_export.server.edge.ratelimit import RateLimiter, RateLimits
from zendesk_export.server.edge.shared_faults import SharedFaultInjectors
from zendesk_export.server.errors import InvalidEndpoint, ZendeskError
from zendesk_export.server.http import Context, ServerConfig, api_routes, error_response
from zendesk_export.server.store import Store

__all__ = ["ServerConfig", "create_app"]

API_ROUTES = exports.ROUTES + users.ROUTES + jobs.ROUTES + tickets.ROUTES
API_ROUTES += resources.ROUTES
API_ROUTES += ticket_data.ROUTES + search.ROUTES


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(InvalidEndpoint())


async def _zendesk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZendeskError)
    return error_response(exc)


def create_app(config: ServerConfig, store: Store, wall: Callable[[], float] = time.time) -> Starlette:
    """The app over ``store``; ``wall`` is the real time every account's clock is read against."""
    ctx = Context(config, store, wall)
    controls = admin.Controls(
        faults=SharedFaultInjectors(store, config.faults) if config.shared_state else FaultInjectors(config.faults),
        journals=SharedJournals(store) if config.shared_state else Journals(),
        limiter=RateLimiter(store, wall, config.rate_limit),
    )
    app = Starlette(
        routes=api_routes(API_ROUTES) + admin.routes(controls),
        exception_handlers={HTTPException: _not_found, ZendeskError: _zendesk_error},
    )
    app.state.ctx = ctx
    # Innermost first: rate limits answer inside Zendesk's headers; an oversized body is refused before it is
    # counted or read; the failsafe turns whatever escapes into a Zendesk error that still gets the headers;
    # faults act outside them, like the network; the journal sees everything, faults included; the account is
    # found before any of them looks; the admin guard closes /__admin/ before anything runs.
    app.add_middleware(RateLimits, limiter=controls.limiter)
    app.add_middleware(BodyLimit)
    app.add_middleware(Failsafe)
    app.add_middleware(ZendeskHeaders, wall=wall)
    app.add_middleware(Faults, injectors=controls.faults)
    hide_injected_drops()
    app.add_middleware(JournalMiddleware, journals=controls.journals, wall=wall)
    app.add_middleware(AccountScope, store=store)
    app.add_middleware(AdminGuard, admin_token=config.admin_token)
    return app
