"""The account's reference objects, seeded with its people: brands, ticket fields of every type, forms, user and
organization fields, memberships, roles, SLA policies, business rules, and the long tail connectors list.

Deterministic for a ``random_seed``; consistent with what the ticket seeding uses (brand 1, form 1, the custom
fields of ``CUSTOM_FIELD_IDS`` and their values, groups 1-5, organizations 1-20).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zendesk_export.server.model.catalog import TEMPLATES
from zendesk_export.server.model.tickets import CUSTOM_STATUS_IDS
from zendesk_export.server.store import Store
from zendesk_export.tickets import format_time

__all__ = ["People", "seed_reference", "reference_objects", "SYSTEM_FIELDS", "CUSTOM_FIELDS"]

DAY = 86_400


@dataclass(frozen=True)
class People:
    """Who the objects point at: the seeded agents and end users, and the organizations and groups."""

    agents: Sequence[int]
    customers: Sequence[tuple[int, int | None]]  # (user id, organization id)
    organizations: Sequence[int]
    groups: Sequence[int]


# (id, type, title) of the system fields every account has.
SYSTEM_FIELDS = ((1, "subject", "Subject"), (2, "description", "Description"), (3, "status", "Status"),
                 (4, "tickettype", "Type"), (5, "priority", "Priority"), (6, "group", "Group"),
                 (7, "assignee", "Assignee"), (8, "custom_status", "Ticket status"))
# (id, type, title, extra attributes) of the custom fields; the first three are the ones seeded tickets fill.
CUSTOM_FIELDS: tuple[tuple[int, str, str, dict[str, Any]], ...] = (
    (360_001, "text", "Order number", {}),
    (360_002, "tagger", "Plan", {"custom_field_options": [
        {"id": 360_101 + i, "name": name, "raw_name": name, "value": value, "default": False}
        for i, (name, value) in enumerate((("Free", "tier_free"), ("Pro", "tier_pro"),
                                           ("Enterprise", "tier_enterprise")))]}),
    (360_003, "checkbox", "VIP", {"tag": "vip_customer"}),
    (360_004, "textarea", "Steps to reproduce", {}),
    (360_005, "date", "Renewal date", {}),
    (360_006, "integer", "Seats", {}),
    (360_007, "decimal", "Order total", {}),
    (360_008, "regexp", "Serial number", {"regexp_for_validation": "\\A[A-Z]{3}-[0-9]{6}\\z"}),
    (360_009, "partialcreditcard", "Card", {}),
    (360_010, "multiselect", "Products", {"custom_field_options": [
        {"id": 360_201 + i, "name": name, "raw_name": name, "value": value, "default": False}
        for i, (name, value) in enumerate((("Web app", "product_web"), ("Mobile app", "product_mobile"),
                                           ("API", "product_api")))]}),
    (360_011, "lookup", "Account manager", {"relationship_target_type": "zen:user",
                                            "relationship_filter": {"all": [], "any": []}}),
)
_SYSTEM_OPTIONS = {
    "status": ["new", "open", "pending", "hold", "solved", "closed"],
    "tickettype": ["question", "incident", "problem", "task"],
    "priority": ["low", "normal", "high", "urgent"],
}


def seed_reference(store: Store, account_id: int, people: People, random_seed: int, now: int) -> dict[str, int]:
    """Store every reference object of the account (replacing those of an earlier seed). Returns counts."""
    counts = {}
    for kind, objects in reference_objects(people, random_seed, now).items():
        counts[kind] = store.put_resources(account_id, kind, objects)
    return counts


def reference_objects(people: People, random_seed: int, now: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(f"reference-{random_seed}")
    since = now - 200 * DAY

    def made(kind: str, object_id: int, **values: Any) -> dict[str, Any]:
        created = since + rng.randrange(20 * DAY)
        updated = min(created + rng.randrange(120 * DAY), now - 120)
        return {"id": object_id, **TEMPLATES[kind], **values, "created_at": format_time(created),
                "updated_at": format_time(updated), "created_at_epoch": created, "updated_at_epoch": updated}

    builders: dict[str, Callable[[Callable[..., dict[str, Any]], random.Random, People], list[dict[str, Any]]]] = {
        "brands": _brands, "ticket_fields": _ticket_fields, "ticket_forms": _ticket_forms,
        "user_fields": _user_fields, "organization_fields": _organization_fields,
        "group_memberships": _group_memberships, "organization_memberships": _organization_memberships,
        "custom_roles": _custom_roles, "sla_policies": _sla_policies, "macros": _macros, "triggers": _triggers,
        "automations": _automations, "views": _views, "targets": _targets,
        "recipient_addresses": _recipient_addresses, "sharing_agreements": _sharing_agreements,
        "dynamic_content_items": _dynamic_content, "activities": _activities,
        "suspended_tickets": _suspended_tickets, "skips": _skips, "requests": _requests,
    }
    return {kind: build(made, rng, people) for kind, build in builders.items()}


Made = Callable[..., dict[str, Any]]


def _brands(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    specs = (("Example Support", "example", True, True), ("Example Shop", "example-shop", True, False),
             ("Legacy Brand", "example-legacy", False, False))
    return [made("brands", i, name=name, subdomain=sub, brand_url=f"https://{sub}.zendesk.com", active=active,
                 default=default, has_help_center=default, help_center_state="enabled" if default else "disabled",
                 ticket_form_ids=[1, 2] if default else [2])
            for i, (name, sub, active, default) in enumerate(specs, start=1)]


def _field(made: Made, object_id: int, kind: str, title: str, position: int, **extra: Any) -> dict[str, Any]:
    return made("ticket_fields", object_id, type=kind, title=title, raw_title=title, title_in_portal=title,
                raw_title_in_portal=title, description=f"{title} of the request", raw_description=f"{title} of "
                "the request", position=position, **extra)


def _custom_statuses(made: Made) -> list[dict[str, Any]]:
    """The account's ticket statuses, one per status category, numbered as tickets' ``custom_status_id``."""
    statuses = []
    for status, number in CUSTOM_STATUS_IDS.items():
        times = made("ticket_fields", number)
        label = status.title()
        statuses.append({"url": f"/api/v2/custom_statuses/{number}.json", "id": number, "status_category": status,
                         "agent_label": label, "end_user_label": "Open" if status == "new" else label,
                         "description": f"Ticket is {status}", "end_user_description": f"Your request is {status}",
                         "active": True, "default": True, "created_at": times["created_at"],
                         "updated_at": times["updated_at"]})
    return statuses


def _ticket_fields(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    system = [_field(made, i, kind, title, i, removable=False, visible_in_portal=kind in ("subject", "description"),
                     editable_in_portal=kind in ("subject", "description"), required_in_portal=kind == "subject",
                     **({"system_field_options": [{"name": v.title(), "value": v} for v in _SYSTEM_OPTIONS[kind]]}
                        if kind in _SYSTEM_OPTIONS else {}))
              for i, kind, title in SYSTEM_FIELDS]
    system[-1]["custom_statuses"] = _custom_statuses(made)
    custom = [_field(made, i, kind, title, 10 + n, key=None, visible_in_portal=n % 2 == 0,
                     editable_in_portal=n % 2 == 0, **extra)
              for n, (i, kind, title, extra) in enumerate(CUSTOM_FIELDS)]
    return system + custom


def _ticket_forms(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    every = [i for i, _, _ in SYSTEM_FIELDS] + [i for i, _, _, _ in CUSTOM_FIELDS]
    specs = ((1, "Default Ticket Form", True, every), (2, "Billing", False, [1, 2, 3, 5, 360_001, 360_002, 360_007]))
    return [made("ticket_forms", i, name=name, raw_name=name, display_name=name, raw_display_name=name,
                 default=default, position=i, ticket_field_ids=ids)
            for i, name, default, ids in specs]


def _person_fields(made: Made, kind: str, specs: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
    objects = []
    for position, (field_type, key, title) in enumerate(specs):
        extra: dict[str, Any] = {}
        if field_type == "date":
            extra["regexp_for_validation"] = "\\A([0-9]{4})-(1[0-2]|0[1-9])-(3[01]|[12][0-9]|0[1-9])\\z"
        if field_type == "checkbox":
            extra["tag"] = key
        if field_type == "dropdown":
            extra["custom_field_options"] = [
                {"id": 370_000 + position * 10 + n, "name": v.title(), "raw_name": v.title(), "value": v}
                for n, v in enumerate(("bronze", "silver", "gold"))]
        objects.append(made(kind, position + 1, type=field_type, key=key, title=title, raw_title=title,
                            description="", raw_description="", position=position, **extra))
    return objects


def _user_fields(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return _person_fields(made, "user_fields", (("text", "employee_id", "Employee ID"),
                                                ("date", "customer_since", "Customer since"),
                                                ("checkbox", "beta_tester", "Beta tester"),
                                                ("dropdown", "loyalty_tier", "Loyalty tier")))


def _organization_fields(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return _person_fields(made, "organization_fields", (("text", "account_number", "Account number"),
                                                        ("integer", "employees", "Employees"),
                                                        ("decimal", "annual_revenue", "Annual revenue")))


def _group_memberships(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    pairs = sorted({(agent, group) for agent in people.agents
                    for group in rng.sample(list(people.groups), min(2, len(people.groups)))})
    first = {agent: min(g for a, g in pairs if a == agent) for agent, _ in pairs}
    return [made("group_memberships", n, user_id=agent, group_id=group, default=first[agent] == group)
            for n, (agent, group) in enumerate(pairs, start=1)]


def _organization_memberships(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    members = [(user, org) for user, org in people.customers if org is not None]
    return [made("organization_memberships", n, user_id=user, organization_id=org, default=True,
                 organization_name=f"Organization {org}")
            for n, (user, org) in enumerate(members, start=1)]


# The permissions of a 2024 role configuration, as a team lead has them.
_ROLE_CONFIGURATION: dict[str, Any] = {
    **dict.fromkeys((
        "chat_access", "manage_business_rules", "manage_dynamic_content", "manage_extensions_and_channels",
        "manage_facebook", "side_conversation_create", "ticket_deletion", "ticket_tag_editing", "view_deleted_tickets",
        "voice_access", "group_access", "organization_editing", "organization_notes_editing",
        "assign_tickets_to_any_group", "ticket_editing", "ticket_merge", "voice_dashboard_access",
        "manage_automations", "manage_contextual_workspaces", "manage_organization_fields", "manage_skills",
        "manage_slas", "manage_ticket_fields", "manage_ticket_forms", "manage_user_fields", "ticket_redaction",
        "manage_groups", "manage_group_memberships", "manage_organizations", "manage_suspended_tickets",
        "manage_triggers", "view_filter_tickets"), True),
    **dict.fromkeys(("forum_access_restricted_content", "light_agent", "moderate_forums", "twitter_search_access",
                     "manage_macro_content_suggestions", "read_macro_content_suggestions", "view_reduced_count",
                     "assign_agent_statuses"), False),
    **dict.fromkeys(("end_user_list_access", "end_user_profile_access", "forum_access", "macro_access",
                     "report_access", "user_view_access", "view_access"), "full"),
    "ticket_access": "all", "ticket_comment_access": "public", "explore_access": "edit", "manage_roles": "none",
    "manage_deletion_schedules": "none", "custom_objects": {},
}


def _custom_roles(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    specs: tuple[tuple[str, str, int, dict[str, Any]], ...] = (
        ("Staff", "Can edit tickets within their groups", 0,
         {"ticket_access": "within-groups", "manage_business_rules": False}),
        ("Team lead", "Can manage all tickets and forums", 0, {}),
        ("Advisor", "Can automate ticket workflows, manage channels and make private comments", 0,
         {"ticket_comment_access": "private", "ticket_editing": False}),
        ("Light agent", "Can view and make private comments on tickets", 0,
         {"light_agent": True, "ticket_comment_access": "private", "ticket_editing": False}),
        ("Admin", "Can manage all settings, except billing", 4, {}))
    return [made("custom_roles", i, name=name, description=text, role_type=role_type,
                 configuration={**_ROLE_CONFIGURATION, **changes}, team_member_count=rng.randrange(0, 6))
            for i, (name, text, role_type, changes) in enumerate(specs, start=1)]


def _metric(priority: str, metric: str, minutes: int) -> dict[str, Any]:
    return {"priority": priority, "metric": metric, "target": minutes, "business_hours": False,
            "target_in_seconds": minutes * 60}


def _sla_policies(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return [
        made("sla_policies", 1, title="First line", description="Tickets of the first support group",
             position=1, filter={"all": [{"field": "group_id", "operator": "is", "value": people.groups[0]}],
                                 "any": []},
             policy_metrics=[_metric("urgent", "first_reply_time", 10), _metric("high", "first_reply_time", 30),
                             _metric("urgent", "requester_wait_time", 120)]),
        made("sla_policies", 2, title="Key accounts", description="Tickets of the largest customer", position=2,
             filter={"all": [{"field": "organization_id", "operator": "is", "value": people.organizations[0]}],
                     "any": []},
             policy_metrics=[_metric(p, "first_reply_time", m) for p, m in
                             (("low", 1440), ("normal", 480), ("high", 120), ("urgent", 60))]),
    ]


def _macros(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    specs = (("Customer not responding", [{"field": "status", "value": "pending"},
                                          {"field": "comment_value", "value": "We have not heard back from you."}]),
             ("Close and redirect to topics", [{"field": "status", "value": "solved"}]),
             ("Downgrade and inform", [{"field": "priority", "value": "low"}]),
             ("Take it!", [{"field": "assignee_id", "value": "current_user"}]),
             ("Escalate to billing", [{"field": "group_id", "value": str(people.groups[0])},
                                      {"field": "set_tags", "value": "billing"}]))
    return [made("macros", i, title=title, raw_title=title, actions=actions, position=i, active=i != 3)
            for i, (title, actions) in enumerate(specs, start=1)]


def _condition(field: str, operator: str, value: str) -> dict[str, str]:
    return {"field": field, "operator": operator, "value": value}


def _triggers(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    specs = (("Notify requester of received request", [_condition("update_type", "is", "Create")],
              [{"field": "status", "value": "open"}]),
             ("Notify assignee of assignment", [_condition("assignee_id", "changed", "")],
              [{"field": "priority", "value": "normal"}]),
             ("Tag VIP tickets", [_condition("requester_id", "is", str(rng.choice(people.customers)[0]))],
              [{"field": "current_tags", "value": "vip"}]),
             ("Route refunds to billing", [_condition("subject_includes_word", "includes", "refund")],
              [{"field": "group_id", "value": str(people.groups[0])}]))
    return [made("triggers", i, title=title, raw_title=title, position=i, conditions={"all": conditions, "any": []},
                 actions=actions, description=f"{title}.", category_id="1")
            for i, (title, conditions, actions) in enumerate(specs, start=1)]


def _automations(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    specs = (("Close ticket 4 days after status is set to solved", "SOLVED", "96", "closed"),
             ("Pending notification 24 hours", "PENDING", "24", "pending"),
             ("Pending notification 5 days", "PENDING", "120", "pending"))
    return [made("automations", i, title=title, raw_title=title, position=i,
                 conditions={"all": [_condition("status", "is", status.lower()),
                                     _condition(status, "greater_than", hours)], "any": []},
                 actions=[{"field": "status", "value": action}])
            for i, (title, status, hours, action) in enumerate(specs, start=1)]


def _column(column_id: str, title: str) -> dict[str, Any]:
    return {"id": column_id, "title": title, "filterable": True, "sortable": True}


def _views(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    columns = [_column("subject", "Subject"), _column("requester", "Requester"), _column("created", "Requested"),
               _column("priority", "Priority"), _column("assignee", "Assignee")]
    execution = {"group_by": "status", "group_order": "asc", "sort_by": "nice_id", "sort_order": "desc",
                 "group": {**_column("status", "Status category"), "order": "asc"},
                 "sort": {**_column("ticket_id", "ID"), "order": "desc"}, "columns": columns, "fields": columns,
                 "custom_fields": []}
    specs = (("Your unsolved tickets", [_condition("status", "less_than", "solved"),
                                        _condition("assignee_id", "is", "current_user")]),
             ("Unassigned tickets", [_condition("assignee_id", "is", "")]),
             ("All unsolved tickets", [_condition("status", "less_than", "solved")]),
             ("Recently solved tickets", [_condition("status", "is", "solved")]),
             ("Pending tickets", [_condition("status", "is", "pending")]))
    return [made("views", i, title=title, raw_title=title, position=i, execution=execution,
                 conditions={"all": conditions, "any": []})
            for i, (title, conditions) in enumerate(specs, start=1)]


def _targets(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return [made("targets", 1, title="Ops webhook", type="url_target_v2"),
            made("targets", 2, title="Team chat", type="http_target", active=False)]


def _recipient_addresses(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return [made("recipient_addresses", 1, brand_id=1, name="Support", email="support@example.zendesk.com",
                 default=True),
            made("recipient_addresses", 2, brand_id=2, name="Shop", email="shop@example.zendesk.com")]


def _sharing_agreements(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    return [made("sharing_agreements", 1, name="Partner Support @ Zendesk", partner_name=None, status="accepted",
                 type="outbound")]


def _dynamic_content(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    items = []
    for i, (name, text) in enumerate((("Greeting", "Hello, thanks for writing."),
                                      ("Signature", "The Example Support team")), start=1):
        item = made("dynamic_content_items", i, name=name, placeholder=f"{{{{dc.{name.lower()}}}}}")
        item["variants"] = [{"url": f"/api/v2/dynamic_content/items/{i}/variants/{i}.json", "id": i,
                             "content": text, "locale_id": 1, "outdated": False, "active": True, "default": True,
                             "created_at": item["created_at"], "updated_at": item["updated_at"]}]
        items.append(item)
    return items


def _activities(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    activities = []
    for i in range(1, 11):
        actor, user, ticket = rng.choice(people.agents), rng.choice(people.agents), rng.randrange(1, 50)
        activities.append(made("activities", i, title=f"Agent {actor} assigned ticket #{ticket} to you.",
                               user_id=user, actor_id=actor, object={"ticket": {"id": ticket, "subject": "Ticket"}},
                               target={"ticket": {"id": ticket, "subject": "Ticket"}}))
    return activities


def _suspended_tickets(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    causes = ("Detected as spam", "Automated response mail", "Received from support address")
    senders = [rng.choice(people.customers)[0] for _ in causes]
    return [made("suspended_tickets", i, subject=f"Suspended message {i}", content="Out of office reply",
                 cause=cause, cause_id=i, message_id=f"<msg{i}@mail.example.net>",
                 recipient="support@example.zendesk.com", brand_id=1, ticket_id=rng.randrange(1, 50),
                 author={"id": senders[i - 1], "name": "Mail sender", "email": f"sender{i}@example.net"},
                 via={"channel": "email", "source": {"from": {"address": f"sender{i}@example.net", "name": "Sender"},
                                                     "to": {"address": "support@example.zendesk.com",
                                                            "name": "Example Support"}, "rel": None}})
            for i, cause in enumerate(causes, start=1)]


def _skips(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    skips = []
    for i, reason in enumerate(("Not my area", "Waiting on billing", "Duplicate"), start=1):
        ticket_id, requester = rng.randrange(1, 50), rng.choice(people.customers)[0]
        ticket = {"id": ticket_id, "subject": f"Ticket {ticket_id}", "status": "open", "requester_id": requester}
        skips.append(made("skips", i, ticket_id=ticket_id, user_id=rng.choice(people.agents), reason=reason,
                          ticket=ticket))
    return skips


def _requests(made: Made, rng: random.Random, people: People) -> list[dict[str, Any]]:
    requests = []
    for i in range(1, 6):
        user, org = rng.choice(people.customers)
        status = rng.choice(("new", "open", "pending", "solved"))
        requests.append(made("requests", i, subject=f"Request {i} from the help center",
                             description="I need help with my order.", status=status, requester_id=user,
                             organization_id=org, solved=status == "solved", ticket_form_id=1,
                             custom_status_id=CUSTOM_STATUS_IDS[status],
                             via={"channel": "web", "source": {"from": {}, "to": {}, "rel": None}}))
    return requests
