"""The admin API's OpenAPI 3 document, generated from the route table (``admin.routes.ADMIN_ROUTES``).

``GET /__admin/openapi.json`` (no token: a client developer reads it before they have one) describes every
route; each row of the table carries its summary and the schemas of its request and response, so a route cannot
go undocumented. The schemas of the table's rows are defined here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zendesk_export import __version__
from zendesk_export.server.admin.guard import OPENAPI_PATH

__all__ = ["AdminRoute", "document", "OBJECT", "INT", "CLOCK", "RULE", "RULES", "LIMITS", "REQUESTS", "ACCOUNT",
           "ACCOUNTS", "NEW_ACCOUNT"]


@dataclass(frozen=True)
class AdminRoute:
    """One admin route: where, what runs, and how the OpenAPI document describes it."""

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    response: dict[str, Any]
    request: dict[str, Any] | None = None
    status: int = 200  # of a successful call
    scoped: bool = True  # takes ?account=NAME


OBJECT: dict[str, Any] = {"type": "object"}
INT = {"type": "integer", "minimum": 1}
CLOCK = {"type": "object", "properties": {"now": {"type": "integer"}, "frozen": {"type": "boolean"}}}
RULE = {
    "type": "object",
    "properties": {
        "match": {"type": "object", "properties": {"method": {"type": "string"}, "path": {"type": "string"},
                                                   "account": {"type": "string"}}},
        "action": {"type": "object", "properties": {
            "status": {"type": "integer"}, "headers": {"type": "object"}, "body": {},
            "latency_ms": {"oneOf": [{"type": "number"}, {"type": "object"}]},
            "drop": {"type": "string", "enum": ["before_body", "mid_body"]},
            "truncate": {"type": "boolean"}, "malformed": {"type": "boolean"}, "empty_page": {"type": "boolean"}}},
        "times": INT, "every": INT, "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    },
    "required": ["action"],
}
RULES = {"type": "object", "properties": {"rules": {"type": "array", "items": RULE}}}
LIMITS = {"type": "object", "properties": {
    "enabled": {"type": "boolean"}, "high_volume": {"type": "boolean"}, "plan_limit": INT, "incremental": INT,
    "users_cursor": INT, "sample": INT}}
REQUESTS = {"type": "object", "properties": {"requests": {"type": "array", "items": {
    "type": "object", "properties": {
        "id": {"type": "integer"}, "time": {"type": "number"}, "method": {"type": "string"},
        "path": {"type": "string"}, "query": {"type": "string"}, "host": {"type": "string", "nullable": True},
        "authorization": {"type": "string", "nullable": True}, "user_agent": {"type": "string", "nullable": True},
        "status": {"type": "integer", "nullable": True}, "duration_ms": {"type": "number"},
        "fault": {"type": "object", "nullable": True}, "server_pid": {"type": "integer"}}}}}}
ACCOUNT = {"type": "object", "properties": {
    "name": {"type": "string"}, "id": {"type": "integer"}, "default": {"type": "boolean"},
    "tickets": {"type": "integer"}, "clock": CLOCK, "api_path": {"type": "string"}}}
ACCOUNTS = {"type": "object", "properties": {"accounts": {"type": "array", "items": ACCOUNT}}}
NEW_ACCOUNT = {"type": "object", "required": ["name", "admin"], "properties": {
    "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
    "admin": {"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string"}, "name": {"type": "string"}, "token": {"type": "string"},
        "password": {"type": "string"}, "oauth_token": {"type": "string"}}}}}


_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "description": {"type": "string"}}}


def _operation(route: AdminRoute) -> dict[str, Any]:
    method, path = route.method, route.path
    doc = (route.handler.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{path.removeprefix('/__admin/').replace('/', '_').replace('.', '_')}"
                       .replace("{", "").replace("}", ""),
        "summary": route.summary,
        "description": doc,
        "responses": {str(route.status): {"description": "OK", "content": {
            "application/json": {"schema": route.response}}}},
    }
    if path == OPENAPI_PATH:
        operation["security"] = []
        return operation
    operation["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                               for name in re.findall(r"{(\w+)}", path)]
    if route.scoped:
        operation["parameters"].append({"name": "account", "in": "query", "required": False,
                                        "schema": {"type": "string"},
                                        "description": "account subdomain (default: the default account)"})
    operation["responses"]["400"] = _error("Invalid parameters or body")
    operation["responses"]["401"] = _error("Missing or wrong admin token")
    if route.request is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.request}}}
    return operation


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def document(routes: Sequence[AdminRoute]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the given admin routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": "zendesk-export admin API", "version": __version__,
                 "description": "Test controls of the local Zendesk server (see the README). Never under /api/v2/."},
        "components": {"securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
        "security": [{"adminToken": []}],
        "paths": paths,
    }
