"""Every resource the API serves through the generic handlers, declared once as data.

A row says where a resource lives (its path, its data keys, the table holding it), how its lists page (offset,
cursor or both, and the cursor's order name), who may read and write it, and which operations it answers. The
handlers in ``api.resources``, the routes and ``/api/v2/openapi.json`` are all made from this table; the object's
shape and rules are the model's (``model.catalog``). Adding a resource is a row here and a template there.
"""

from __future__ import annotations

from dataclasses import dataclass

from zendesk_export.server.export.paging import CURSOR, OFFSET

__all__ = ["Resource", "RESOURCES", "SIDELOADS", "CRUD", "OPERATIONS", "READ_ONLY", "MEMBERSHIPS", "by_name"]

CRUD = ("list", "show", "create", "update", "destroy")
OPERATIONS = (*CRUD, "show_many")
READ_ONLY = ("list", "show")
MEMBERSHIPS = ("list", "show", "create", "destroy")  # a membership is replaced, never updated


# A sideload: the table whose records it lists, and the attribute of the page's objects holding their ids.
SIDELOADS: dict[str, tuple[str, str]] = {
    "users": ("users", "user_id"), "groups": ("groups", "group_id"),
    "organizations": ("organizations", "organization_id"),
}


@dataclass(frozen=True)
class Resource:
    name: str  # the plural: the list's data key, the path segment, the store kind
    singular: str  # the object's data key
    path: str = ""  # default /api/v2/{name}
    table: str = "records"  # "records" (one kind each), users/groups/organizations, or "tags" (counted)
    list_key: str = ""  # a list's data key when it is not the plural (dynamic content: "items")
    paging: tuple[str, ...] = (OFFSET, CURSOR)
    order: str = "id"  # the cursor's order name (Zendesk's token names it)
    read: str = "agent"  # the least role that may read: "agent" or "admin"
    write: str = "admin"  # the least role that may create, update, delete
    operations: tuple[str, ...] = CRUD  # and "show_many" where Zendesk has it
    created_status: int = 201  # what a create answers (Zendesk's document says 200 for macros and views)
    has_url: bool = True  # whether objects carry their own `url`
    sideloads: tuple[str, ...] = ()  # `include=` names it answers, each a key of SIDELOADS
    summary: str = ""

    @property
    def base(self) -> str:
        return self.path or f"/api/v2/{self.name}"

    @property
    def data_key(self) -> str:
        return self.list_key or self.name


RESOURCES: tuple[Resource, ...] = (
    Resource("brands", "brand", summary="Brands: the account's help desks"),
    Resource("ticket_fields", "ticket_field", summary="Ticket fields, system and custom"),
    Resource("ticket_forms", "ticket_form", operations=OPERATIONS, summary="Ticket forms and the fields each shows"),
    Resource("user_fields", "user_field", summary="Custom user fields"),
    Resource("organization_fields", "organization_field", summary="Custom organization fields"),
    Resource("group_memberships", "group_membership", operations=MEMBERSHIPS, sideloads=("users", "groups"),
             summary="Agents' memberships of groups"),
    Resource("organization_memberships", "organization_membership", operations=MEMBERSHIPS,
             sideloads=("users", "organizations"),
             summary="Users' memberships of organizations"),
    Resource("custom_roles", "custom_role", operations=READ_ONLY, has_url=False, paging=(OFFSET,),
             summary="Agent roles"),
    Resource("sla_policies", "sla_policy", path="/api/v2/slas/policies", paging=(OFFSET,),
             summary="SLA policies"),
    Resource("macros", "macro", created_status=200, summary="Macros"),
    Resource("triggers", "trigger", summary="Triggers"),
    Resource("automations", "automation", summary="Automations"),
    Resource("views", "view", operations=OPERATIONS, created_status=200, summary="Views"),
    Resource("targets", "target", has_url=False, paging=(OFFSET,), summary="Targets (legacy notifications)"),
    Resource("recipient_addresses", "recipient_address", has_url=False, summary="Support addresses"),
    Resource("sharing_agreements", "sharing_agreement", paging=(OFFSET,), summary="Ticket sharing agreements"),
    Resource("dynamic_content_items", "item", path="/api/v2/dynamic_content/items", list_key="items",
             operations=OPERATIONS, summary="Dynamic content items"),
    Resource("activities", "activity", operations=READ_ONLY, read="agent", summary="Agent activity stream"),
    Resource("suspended_tickets", "suspended_ticket", operations=("list", "show", "destroy"),
             summary="Suspended tickets"),
    Resource("skips", "skip", operations=("list",), has_url=False, summary="Ticket skips"),
    Resource("requests", "request", write="end-user", operations=("list", "show", "create"),
             summary="Requests: tickets as their requesters see them"),
    Resource("phone_numbers", "phone_number", path="/api/v2/channels/voice/phone_numbers", operations=("list",),
             paging=(OFFSET,), summary="Zendesk Talk phone numbers (none: the account has no Talk line)"),
    Resource("tags", "tag", table="tags", operations=("list",), has_url=False, order="-score,id",
             summary="Tags of live tickets, most used first, with their counts"),
    Resource("users", "user", table="users", operations=("list",), summary="Users"),
    Resource("organizations", "organization", table="organizations", operations=("list",),
             summary="Organizations"),
    Resource("groups", "group", table="groups", operations=("list",), summary="Groups"),
)


def by_name(name: str) -> Resource:
    return _BY_NAME[name]


_BY_NAME = {r.name: r for r in RESOURCES}
