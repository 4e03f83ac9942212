"""``/api/v2/openapi.json``: an OpenAPI 3 document of the declared resources, made from the same table as the
routes, so that it never lists an operation the server does not answer (nor misses one it does)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zendesk_export.server.export.paging import CURSOR, OFFSET, PAGE_SIZE_MAX
from zendesk_export.server.model.catalog import TEMPLATES, schema_of
from zendesk_export.server.resources import Resource
from zendesk_export.server.resources.operations import Operation
from zendesk_export.tickets import TICKET_FIELDS

__all__ = ["openapi_document"]

_ERROR = {"type": "object", "properties": {"error": {}, "description": {"type": "string"}}}
_OBJECT = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}


def openapi_document(resources: Sequence[Resource], server_url: str,
                     operations: Sequence[Operation] = ()) -> dict[str, Any]:
    """The document of the declared ``resources`` and of the hand-written ``operations``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR, **_ITEMS}
    for resource in resources:
        stored = resource.table == "records"
        schemas[resource.singular] = (schema_of(resource.name, resource.has_url, stored)
                                      if resource.name in TEMPLATES else _OBJECT)
        for path, method, operation in _operations(resource):
            paths.setdefault(path, {})[method] = operation
    for declared in operations:
        paths.setdefault(declared.document_path, {})[declared.method.lower()] = _declared(declared)
    return {"openapi": "3.0.3", "info": {"title": "zendesk-export: Zendesk Support API", "version": "2"},
            "servers": [{"url": server_url}], "paths": paths, "components": {
                "schemas": schemas, "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
            "security": [{"basic": []}]}


def _ref(resource: Resource) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{resource.singular}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json({"$ref": "#/components/schemas/Error"}, "Error") for s in statuses}


def _one(resource: Resource) -> dict[str, Any]:
    return {"type": "object", "properties": {resource.singular: _ref(resource)}, "required": [resource.singular]}


def _list_schema(resource: Resource) -> dict[str, Any]:
    items = {"type": "array", "items": _ref(resource)}
    link = {"type": "string", "nullable": True}
    properties: dict[str, Any] = {resource.data_key: items}
    if OFFSET in resource.paging:
        properties.update(next_page=link, previous_page=link, count={"type": "integer"})
    if CURSOR in resource.paging:
        properties["meta"] = {"type": "object", "properties": {
            "has_more": {"type": "boolean"}, "after_cursor": link, "before_cursor": link}}
        properties["links"] = {"type": "object", "properties": {"prev": link, "next": link}}
    return {"type": "object", "properties": properties, "required": [resource.data_key]}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _paging_parameters(resource: Resource) -> list[dict[str, Any]]:
    params = [_query("include", {"type": "string", "description": "Sideloads: " + ", ".join(resource.sideloads)})
              ] if resource.sideloads else []
    return params + _page_parameters(resource.paging, PAGE_SIZE_MAX)


def _page_parameters(styles: Sequence[str], max_size: int) -> list[dict[str, Any]]:
    params = []
    if OFFSET in styles:
        params += [_query("page", {"type": "integer", "minimum": 1}),
                   _query("per_page", {"type": "integer", "minimum": 1, "maximum": max_size})]
    if CURSOR in styles:
        params += [_query("page[size]", {"type": "integer", "minimum": 1, "maximum": max_size}),
                   _query("page[after]", {"type": "string"}), _query("page[before]", {"type": "string"})]
    return params


# -- the hand-written operations (``resources.operations``) --------------------------------------------------
def _nullable(kind: str) -> dict[str, Any]:
    types = {"int": "integer", "str": "string", "bool": "boolean", "time": "string", "date": "string"}
    return {"type": types[kind], "nullable": True} if kind in types else {"nullable": True}


_TICKET = {"type": "object", "required": ["id"], "properties": {
    "url": {"type": "string"}, **{f.name: _nullable(f.kind) for f in TICKET_FIELDS}, "id": {"type": "integer"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "custom_fields": {"type": "array", "items": {"type": "object", "required": ["id"]}}}}
_WITH_INT_ID = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
_ITEMS: dict[str, Any] = {
    "ticket": _TICKET, "audit": _WITH_INT_ID, "comment": _WITH_INT_ID, "ticket_metric": _WITH_INT_ID,
    "ticket_metric_event": _WITH_INT_ID, "satisfaction_rating": _WITH_INT_ID, "deleted_ticket": _WITH_INT_ID,
    "search_result": {"type": "object", "required": ["id", "result_type"], "properties": {
        "id": {"type": "integer"}, "result_type": {"type": "string", "enum": ["ticket", "user", "organization"]}}},
    "job_status": {"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"type": "string"}}},
    "count": {"type": "object", "required": ["value"], "properties": {"value": {"type": "integer"}}},
    "integer": {"type": "integer"},
}


def _declared(op: Operation) -> dict[str, Any]:
    path_ids = [{"name": name.split(":")[0], "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}} for name in _path_names(op.path)]
    query = [_query(name, schema, required) for name, schema, required in op.query]
    item = {"$ref": f"#/components/schemas/{op.item}"}
    if not op.key:
        success = {"description": "OK"}
    elif op.many:
        link = {"type": "string", "nullable": True}
        success = _json({"type": "object", "required": [op.key], "properties": {
            op.key: {"type": "array", "items": item}, "next_page": link, "previous_page": link,
            "meta": {"type": "object"}, "links": {"type": "object"}}})
    else:
        success = _json({"type": "object", "required": [op.key], "properties": {op.key: item}})
    return {"operationId": op.name, "summary": op.summary,
            "parameters": path_ids + query + _page_parameters(op.paging, op.max_size),
            "responses": {"200": success, **_errors(400, 401, 403, 404, 422)}}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operations(resource: Resource) -> list[tuple[str, str, dict[str, Any]]]:
    base, one = resource.base, resource.base + "/{id}"
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
    ids = [{"name": "ids", "in": "query", "required": True, "schema": {"type": "string"}}]
    body = {"required": True, "content": {"application/json": {"schema": _one(resource)}}}
    summary = resource.summary or resource.name
    table: dict[str, tuple[str, str, dict[str, Any]]] = {
        "list": (base, "get", {"parameters": _paging_parameters(resource),
                               "responses": {"200": _json(_list_schema(resource)), **_errors(400, 401, 403)}}),
        "show_many": (base + "/show_many", "get", {"parameters": ids, "responses": {
            "200": _json(_list_schema(resource)), **_errors(400, 401, 403)}}),
        "show": (one, "get", {"parameters": id_param, "responses": {"200": _json(_one(resource)),
                                                                     **_errors(401, 403, 404)}}),
        "create": (base, "post", {"requestBody": body, "responses": {
            str(resource.created_status): _json(_one(resource), "Created"), **_errors(400, 401, 403, 422)}}),
        "update": (one, "put", {"parameters": id_param, "requestBody": body, "responses": {
            "200": _json(_one(resource)), **_errors(400, 401, 403, 404, 422)}}),
        "destroy": (one, "delete", {"parameters": id_param, "responses": {
            "204": {"description": "Deleted"}, **_errors(401, 403, 404)}}),
    }
    return [(path, method, {"operationId": f"{op}_{resource.name}", "summary": summary, **spec})
            for op, (path, method, spec) in table.items() if op in resource.operations]
