"""The public API, pinned: what users import and what the wire says must not change by accident.

A change here is a change for users: add a name deliberately (and document it), never drop or rename one silently.
"""

from __future__ import annotations

import inspect

import pytest

import zendesk_export.exporter
import zendesk_export.exporter.errors as exporter_errors
import zendesk_export.server.errors as server_errors
import zendesk_export.testing
from zendesk_export.server.store import Store, Writer


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_exporter_exports_these_names() -> None:
    assert sorted(zendesk_export.exporter.__all__) == [
        "AccessError", "AccountNotFound", "ApiError", "AuthenticationFailed", "CheckpointMismatch", "ClientStats",
        "ConfigError", "ExportConfig", "ExportError", "ExportPage", "ExportStuck", "ExportSummary", "GaveUp",
        "MalformedPage", "MissingExtra", "OutputError", "PermissionDenied", "Progress", "RetryPolicy", "RunSummary",
        "StreamResult", "TooRecentStartTime", "Unreachable", "Wait", "ZendeskClient", "iter_pages", "iter_tickets",
        "run_export", "run_streams",
    ]
    assert all(hasattr(zendesk_export.exporter, name) for name in zendesk_export.exporter.__all__)


def test_the_pytest_plugin_offers_these_fixtures_and_handles() -> None:
    testing = zendesk_export.testing
    assert testing.__all__ == ["AdminClient", "ZendeskAccount", "ZendeskServer", "shared_server_admin",
                               "zendesk_account", "zendesk_server", "zendesk_server_session"]
    assert _public(testing.AdminClient) >= {
        "account", "accounts", "advance", "clear_faults", "clear_requests", "clock", "close", "create_account",
        "delete_account", "faults", "for_account", "freeze",
        "rate_limits", "requests", "reset", "reset_clock", "reset_rate_limit", "scrub", "seed", "set_faults",
        "set_rate_limit", "unfreeze",
    }
    assert _public(testing.ZendeskServer) >= {"auth", "client", "start", "stop", "url"}
    assert _public(testing.ZendeskAccount) >= {"auth", "client", "create", "delete", "url"}
    account_fields = set(inspect.signature(testing.ZendeskAccount).parameters)
    assert account_fields >= {"server_admin", "name", "email", "token", "password", "oauth_token"}
    fields = set(inspect.signature(testing.ZendeskServer).parameters)
    assert fields >= {"running", "email", "token", "password", "oauth_token", "agent_email", "agent_token"}


def test_the_store_protocol_has_these_operations() -> None:
    assert _public(Store) == {
        "account", "add_users", "changes", "clear_rate_counters", "close", "comment_counts",
        "demo_credentials_active", "export_group", "export_rows", "get_ticket", "hit_rate_counters",
        "insert_records", "insert_tickets", "list_records", "put_job", "rate_counters", "read_job", "records_by_id",
        "reset",
        "scrub_due", "secret_hashes", "set_account_setting", "tickets_by_id", "token_hash", "user", "user_by_email",
        "user_by_oauth_token", "write",
        # accounts as units: created, listed, deleted; each with its stored clock
        "accounts", "change_clock", "create_account", "delete_account", "ticket_count",
        # declared resources
        "create_resource", "delete_resource", "put_resources", "resource_count", "resource_page", "resources_by_id",
        "tag_counts",
        "audits_of_tickets", "count_where", "select_page",
        # export pages: a page's sideloaded records as stored rows, so their rendered JSON can be kept and reused
        "record_rows",
        # serve --workers N: the journal and the fault rules' counters, shared by every process
        "append_journal", "journal", "clear_journal", "change_shared_state",
        # seeding: ids reserved and rows written apart, so that another process can render the rows
        "ticket_loader",
    }
    assert _public(Writer) == {"add_audit", "get_record", "get_ticket", "next_id", "next_ids", "put_record",
                               "put_ticket"}


WIRE_ERRORS = {  # class → (HTTP status, the `error` code a client reads)
    "CouldNotAuthenticate": (401, "Couldn't authenticate you"),
    "InvalidToken": (401, "invalid_token"),
    "Forbidden": (403, "Forbidden"),
    "NoHelpDesk": (404, "NoHelpDesk"),
    "RecordNotFound": (404, "RecordNotFound"),
    "InvalidEndpoint": (404, "InvalidEndpoint"),
    "ParameterMissing": (400, "ParameterMissing"),
    "InvalidParameter": (400, "InvalidValue"),
    "InvalidJSON": (400, "InvalidJSON"),
    "TooRecentStartTime": (422, "InvalidValue"),
    "RecordInvalid": (422, "RecordInvalid"),
    "TooManyValues": (400, "TooManyValues"),
    "InvalidPaginationParameter": (400, "InvalidPaginationParameter"),
    "InvalidPageParameter": (400, "InvalidPaginationParameter"),
    "RateLimitExceeded": (429, "APIRateLimitExceeded"),
    "AdminUnauthorized": (401, "AdminUnauthorized"),
    "PayloadTooLarge": (413, "PayloadTooLarge"),
    "InternalError": (500, "InternalError"),
    "DuplicateAccount": (409, "DuplicateAccount"),
    "SearchLimit": (422, "invalid"),
}


def _subclasses(module: object, root: type) -> dict[str, type]:
    return {name: value for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, root) and value is not root}


def test_every_server_wire_error_has_its_status_and_code_written_out() -> None:
    found = _subclasses(server_errors, server_errors.ZendeskError)
    assert {name: (cls.status, cls.error) for name, cls in found.items()} == WIRE_ERRORS
    assert all("error" in vars(cls) for cls in found.values()), "each class names its own code"


@pytest.mark.parametrize("name", ["RecordNotFound", "InvalidEndpoint", "InvalidJSON"])
def test_a_flat_error_body_carries_the_written_code(name: str) -> None:
    error = getattr(server_errors, name)()
    assert error.body()["error"] == WIRE_ERRORS[name][1]


def test_every_exporter_error_descends_from_export_error_with_an_exit_code() -> None:
    found = _subclasses(exporter_errors, Exception)
    assert set(found) >= {"ConfigError", "OutputError", "ApiError", "AccessError", "GaveUp", "ExportStuck"}
    assert all(issubclass(cls, exporter_errors.ExportError) for cls in found.values())
    assert {cls.exit_code for cls in found.values()} <= {1, 2, 3, 4}
