"""The operations with handlers of their own (tickets list, audits, comments, metrics, metric events, ratings,
deleted tickets, job statuses, search), declared once as data: their routes (``api.ticket_data`` and
``api.search`` bind a handler to each by name) and their part of ``/api/v2/openapi.json`` are both made from
this table, so the document lists exactly what these handlers answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zendesk_export.server.export.paging import CURSOR, OFFSET, PAGE_SIZE_MAX
from zendesk_export.server.export.ticket_data import METRIC_EVENTS_PATH

__all__ = ["Operation", "OPERATIONS", "TICKET_DATA", "SEARCH"]

_INT = {"type": "integer", "minimum": 0}
_IDS = {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}


@dataclass(frozen=True)
class Operation:
    name: str  # the handler's name, also the document's operationId
    method: str
    path: str  # the route, ids as ``{ticket_id:int}``
    summary: str
    key: str = ""  # the answer's data key ("": an empty body)
    item: str = "object"  # the schema of what ``key`` holds (a name of ``ITEMS``)
    many: bool = True  # ``key`` holds a list of items (else one)
    paging: tuple[str, ...] = ()  # list paging styles answered
    query: tuple[tuple[str, dict[str, Any], bool], ...] = ()  # (name, schema, required) of other parameters
    admin: bool = False  # only an admin may call it
    max_size: int = PAGE_SIZE_MAX  # the largest page[size] / per_page
    scope: tuple[str, str] = ("", "")  # a scoped list: (the parent's table, the column naming the parent)

    @property
    def document_path(self) -> str:
        """The path as OpenAPI writes it (``{ticket_id}``)."""
        return self.path.replace(":int}", "}").replace(":id}", "}")


_BOTH = (OFFSET, CURSOR)
_SEARCH_QUERY = ("query", {"type": "string", "minLength": 1}, True)

TICKET_DATA: tuple[Operation, ...] = (
    Operation("list_tickets", "GET", "/api/v2/tickets", "Live tickets, by id", key="tickets",
              item="ticket", paging=_BOTH, query=(("include", {"type": "string", "enum": ["metric_sets"]}, False),)),
    Operation("count_tickets", "GET", "/api/v2/tickets/count", "How many live tickets", key="count", item="count",
              many=False),
    Operation("ticket_incidents", "GET", "/api/v2/tickets/{ticket_id:int}/incidents", "A problem's incidents",
              key="tickets", item="ticket", paging=_BOTH),
    Operation("organization_tickets", "GET", "/api/v2/organizations/{parent_id:id}/tickets",
              "An organization's tickets",
              key="tickets", item="ticket", paging=_BOTH, scope=("organizations", "organization_id")),
    Operation("requested_tickets", "GET", "/api/v2/users/{parent_id:id}/tickets/requested",
              "The tickets a user requested", key="tickets", item="ticket", paging=_BOTH,
              scope=("users", "requester_id")),
    Operation("list_problems", "GET", "/api/v2/problems", "Tickets of type problem", key="tickets",
              item="ticket", paging=_BOTH),
    Operation("ticket_audits", "GET", "/api/v2/tickets/{ticket_id:int}/audits", "A ticket's audits, oldest first",
              key="audits", item="audit", paging=_BOTH),
    Operation("all_audits", "GET", "/api/v2/ticket_audits", "Every ticket's audits, oldest first", key="audits",
              item="audit", paging=(CURSOR,), admin=True),
    Operation("ticket_comments", "GET", "/api/v2/tickets/{ticket_id:int}/comments", "A ticket's comments",
              key="comments", item="comment", paging=_BOTH),
    Operation("list_metrics", "GET", "/api/v2/ticket_metrics", "Ticket metric sets, newest ticket first",
              key="ticket_metrics", item="ticket_metric", paging=_BOTH),
    Operation("show_metric", "GET", "/api/v2/ticket_metrics/{ticket_id:int}", "A ticket's metric set",
              key="ticket_metric", item="ticket_metric", many=False),
    Operation("show_ticket_metric", "GET", "/api/v2/tickets/{ticket_id:int}/metrics", "A ticket's metric set",
              key="ticket_metric", item="ticket_metric", many=False),
    Operation("metric_events", "GET", METRIC_EVENTS_PATH,
              "Metric events since start_time (time-based, or a cursor with page[size])",
              key="ticket_metric_events", item="ticket_metric_event", paging=(CURSOR,), admin=True,
              max_size=1000, query=(("start_time", _INT, True),
                                    ("per_page", {"type": "integer", "minimum": 1}, False))),
    Operation("list_ratings", "GET", "/api/v2/satisfaction_ratings", "Satisfaction ratings",
              key="satisfaction_ratings", item="satisfaction_rating", paging=_BOTH, query=(
                  ("start_time", _INT, False), ("end_time", _INT, False),
                  ("score", {"type": "string", "enum": ["offered", "unoffered", "good", "bad", "good_with_comment",
                                                        "good_without_comment", "bad_with_comment",
                                                        "bad_without_comment", "received"]}, False))),
    Operation("show_rating", "GET", "/api/v2/satisfaction_ratings/{rating_id:int}", "A satisfaction rating",
              key="satisfaction_rating", item="satisfaction_rating", many=False),
    Operation("list_deleted", "GET", "/api/v2/deleted_tickets", "Deleted tickets not yet scrubbed",
              key="deleted_tickets", item="deleted_ticket", paging=_BOTH),
    Operation("restore_many", "PUT", "/api/v2/deleted_tickets/restore_many", "Restore deleted tickets",
              query=(("ids", _IDS, True),)),
    Operation("restore", "PUT", "/api/v2/deleted_tickets/{ticket_id:int}/restore", "Restore a deleted ticket"),
    Operation("destroy_many", "DELETE", "/api/v2/deleted_tickets/destroy_many", "Delete tickets for good",
              key="job_status", item="job_status", many=False, query=(("ids", _IDS, True),)),
    Operation("destroy", "DELETE", "/api/v2/deleted_tickets/{ticket_id:int}", "Delete a ticket for good",
              key="job_status", item="job_status", many=False),
    Operation("list_jobs", "GET", "/api/v2/job_statuses", "The account's job statuses", key="job_statuses",
              item="job_status", paging=(OFFSET,)),
)
SEARCH: tuple[Operation, ...] = (
    Operation("search", "GET", "/api/v2/search", "Search tickets, users and organizations (at most 1000 results)",
              key="results", item="search_result", paging=(OFFSET,), query=(_SEARCH_QUERY,)),
    Operation("count", "GET", "/api/v2/search/count", "How many results a search has", key="count",
              item="integer", many=False, query=(_SEARCH_QUERY,)),
    Operation("export", "GET", "/api/v2/search/export", "Every result of a search of one type, by cursor",
              key="results", item="search_result", paging=(CURSOR,), max_size=1000, query=(
                  _SEARCH_QUERY, ("filter[type]", {"type": "string", "enum": ["ticket", "user", "organization"]},
                                  True))),
)
OPERATIONS = TICKET_DATA + SEARCH
