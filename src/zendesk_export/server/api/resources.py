"""The generic handlers of every declared resource (``server.resources``): list (offset and cursor paging),
show, show_many, create, update, destroy; and ``GET /api/v2/openapi.json``, made from the same table.

A handler checks who may do what (the row's ``read``/``write``), parses the request into plain values, and lets
the model make the object (``model.catalog``) and the store keep it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from zendesk_export.server.api.tickets import parse_ids
from zendesk_export.server.errors import ParameterMissing, RecordNotFound
from zendesk_export.server.export.paging import ListSource, Source, StoreSource, envelope, fetch, parse_page
from zendesk_export.server.http import Call, Handler, json_response
from zendesk_export.server.model.catalog import changed_object, new_object, render_object
from zendesk_export.server.model.ids import MAX_ID
from zendesk_export.server.model.users import RENDERERS
from zendesk_export.server.resources import RESOURCES, SIDELOADS, Resource
from zendesk_export.server.resources.openapi import openapi_document
from zendesk_export.server.resources.operations import OPERATIONS
from zendesk_export.server.store import User

__all__ = ["ROUTES", "render"]



def render(call: Call, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as the API shows it, on the host the client asked."""
    if resource.table == "tags":
        return dict(obj)
    if resource.table != "records":
        rendered = RENDERERS[resource.table](call.base_url, obj)
        if resource.table == "organizations":  # the export's organizations say `deleted_at`; lists do not
            rendered.pop("deleted_at", None)
        return rendered
    url = f"{call.base_url}{resource.base}/{obj['id']}.json" if resource.has_url else None
    return render_object(resource.name, _hosted(call.base_url, obj), url)


def _hosted(base_url: str, value: Any) -> Any:
    """Nested objects' ``url``s are stored as paths (``/api/v2/custom_statuses/1.json``): on the host asked."""
    if isinstance(value, dict):
        return {k: base_url + v if k == "url" and isinstance(v, str) and v.startswith("/api/v2/")
                else _hosted(base_url, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hosted(base_url, v) for v in value]
    return value


def _reader(call: Call, resource: Resource) -> None:
    call.caller(admin=resource.read == "admin")


def _writer(call: Call, resource: Resource) -> User:
    return call.caller(admin=resource.write == "admin")


def _object_id(call: Call) -> int:
    object_id = call.path_int("object_id")
    if object_id > MAX_ID:
        raise RecordNotFound()
    return object_id


def _found(call: Call, resource: Resource, object_id: int) -> dict[str, Any]:
    found = call.ctx.store.resources_by_id(call.account.id, resource.name, [object_id])
    if not found:
        raise RecordNotFound()
    return found[0]


def _payload(call: Call, resource: Resource) -> dict[str, Any]:
    body = call.json().get(resource.singular)
    if not isinstance(body, dict):
        raise ParameterMissing(resource.singular)
    return body


def _named(handler: Handler, operation: str, resource: Resource) -> Handler:
    handler.__name__ = f"{operation}_{resource.name}"
    return handler


# -- the six operations ---------------------------------------------------------------------------------
def _list(resource: Resource) -> Handler:
    def handler(call: Call) -> Response:
        _reader(call, resource)
        request = parse_page(call.params, resource.order, styles=resource.paging)
        page = fetch(_source(call, resource), request)
        items = [render(call, resource, obj) for obj in page.items]
        url = call.base_url + call.request.url.path
        body = envelope(resource.data_key, items, page, url, call.params.multi_items())
        return json_response(_with_sideloads(call, resource, body, page.items))

    return _named(handler, "list", resource)


def _with_sideloads(call: Call, resource: Resource, body: dict[str, Any], objects: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """``include=users,groups``: the records the page's objects point at, as top-level arrays after the page's
    own (names the resource does not declare are ignored, as Zendesk ignores them)."""
    asked = [name.strip() for name in call.params.get("include", "").split(",")]
    wanted = [name for name in resource.sideloads if name in asked]
    if not wanted:
        return body
    keys = list(body)
    extra = {}
    for name in wanted:
        table, attribute = SIDELOADS[name]
        ids = {obj[attribute] for obj in objects if isinstance(obj.get(attribute), int)}
        extra[name] = [RENDERERS[table](call.base_url, r) for r in call.ctx.store.records_by_id(call.account.id,
                                                                                                 table, ids)]
    return {keys[0]: body[keys[0]], **extra, **{k: body[k] for k in keys[1:]}}


def _source(call: Call, resource: Resource) -> Source[dict[str, Any]]:
    if resource.table == "tags":
        counts = call.ctx.store.tag_counts(call.account.id)
        tags = [{"name": name, "count": count} for name, count in counts.items()]
        return ListSource(tags, key=lambda tag: (-tag["count"], tag["name"]))
    kind = resource.name if resource.table == "records" else None
    return StoreSource(call.ctx.store, call.account.id, resource.table, kind)


def _show(resource: Resource) -> Handler:
    def handler(call: Call) -> Response:
        _reader(call, resource)
        obj = _found(call, resource, _object_id(call))
        return json_response(_with_sideloads(call, resource, {resource.singular: render(call, resource, obj)}, [obj]))

    return _named(handler, "show", resource)


def _show_many(resource: Resource) -> Handler:
    """`show_many?ids=…`: the objects among ids, by id, with the offset keys of a one-page list."""

    def handler(call: Call) -> Response:
        _reader(call, resource)
        ids = [i for i in parse_ids(call) if i <= MAX_ID]
        found = call.ctx.store.resources_by_id(call.account.id, resource.name, ids)
        items = [render(call, resource, obj) for obj in found]
        return json_response({resource.data_key: items, "next_page": None, "previous_page": None,
                              "count": len(items)})

    return _named(handler, "show_many", resource)


def _create(resource: Resource) -> Handler:
    def handler(call: Call) -> Response:
        actor = _writer(call, resource)
        payload, now = _payload(call, resource), call.now()
        new_object(resource.name, 0, payload, now, actor)  # refuse a bad payload before taking an id
        obj = call.ctx.store.create_resource(
            call.account.id, resource.name, lambda object_id: new_object(resource.name, object_id, payload, now, actor))
        location = {"Location": f"{call.base_url}{resource.base}/{obj['id']}.json"}
        return json_response({resource.singular: render(call, resource, obj)}, resource.created_status, location)

    return _named(handler, "create", resource)


def _update(resource: Resource) -> Handler:
    def handler(call: Call) -> Response:
        _writer(call, resource)
        object_id = _object_id(call)
        payload, current = _payload(call, resource), _found(call, resource, object_id)
        obj = changed_object(resource.name, current, payload, call.now())
        call.ctx.store.put_resources(call.account.id, resource.name, [dict(obj)])
        shown = {k: v for k, v in obj.items() if not k.endswith("_epoch")}
        return json_response({resource.singular: render(call, resource, shown)})

    return _named(handler, "update", resource)


def _destroy(resource: Resource) -> Handler:
    def handler(call: Call) -> Response:
        _writer(call, resource)
        if not call.ctx.store.delete_resource(call.account.id, resource.name, _object_id(call)):
            raise RecordNotFound()
        return Response(status_code=204)

    return _named(handler, "destroy", resource)


def openapi(call: Call) -> Response:
    """`GET /api/v2/openapi.json`: the declared resources and operations as an OpenAPI 3 document (no credentials
    needed)."""
    return json_response(openapi_document(RESOURCES, call.base_url, OPERATIONS))


def _routes(resource: Resource) -> list[tuple[str, str, Handler]]:
    base, one = resource.base, resource.base + "/{object_id:id}"
    table = {"show_many": ("GET", base + "/show_many", _show_many), "list": ("GET", base, _list),
             "create": ("POST", base, _create), "show": ("GET", one, _show), "update": ("PUT", one, _update),
             "destroy": ("DELETE", one, _destroy)}
    return [(method, path, make(resource)) for op, (method, path, make) in table.items()
            if op in resource.operations]


ROUTES: list[tuple[str, str, Handler]] = [("GET", "/api/v2/openapi", openapi)] + [
    route for resource in RESOURCES for route in _routes(resource)]
