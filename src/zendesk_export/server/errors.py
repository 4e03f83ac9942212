"""Zendesk's wire errors, one class each. Raise one anywhere in a request; the app renders its exact body.

Zendesk mixes three body shapes (reference §7): flat ``{"error", "description"}``, flat with ``details``
(validation), and nested ``{"error": {"title", "message"}}`` (403 and the unknown-account 404). 401 has a bare
string.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ZendeskError",
    "CouldNotAuthenticate",
    "InvalidToken",
    "Forbidden",
    "NoHelpDesk",
    "RecordNotFound",
    "InvalidEndpoint",
    "ParameterMissing",
    "InvalidParameter",
    "InvalidJSON",
    "TooRecentStartTime",
    "RecordInvalid",
    "TooManyValues",
    "InvalidPaginationParameter",
    "InvalidPageParameter",
    "SearchLimit",
    "RateLimitExceeded",
    "AdminUnauthorized",
    "PayloadTooLarge",
    "InternalError",
    "DuplicateAccount",
]


class ZendeskError(Exception):
    """The root of every error the server answers with; ``error`` is the wire code, written out so that renaming
    a class never changes the API."""

    status: ClassVar[int] = 500
    error: ClassVar[str] = "InternalError"
    headers: dict[str, str] = {}

    def body(self) -> Any:
        return {"error": self.error, "description": str(self)}


class CouldNotAuthenticate(ZendeskError):
    """Missing or wrong credentials."""

    status = 401
    error = "Couldn't authenticate you"
    headers = {"WWW-Authenticate": 'Basic realm="Web Password"'}

    def body(self) -> Any:
        return {"error": self.error}


class InvalidToken(ZendeskError):
    """An OAuth bearer token we do not know."""

    status = 401
    error = "invalid_token"
    headers = {"WWW-Authenticate": 'Bearer realm="Web Password", error="invalid_token"'}

    def body(self) -> Any:
        return {
            "error": self.error,
            "error_description": "The access token provided is expired, revoked, malformed or invalid "
            "for other reasons.",
        }


class Forbidden(ZendeskError):
    """Authenticated, but not allowed (an agent on an admin-only endpoint)."""

    status = 403
    error = "Forbidden"

    def body(self) -> Any:
        return {
            "error": {
                "title": "Forbidden",
                "message": "You do not have access to this page. Please contact the account owner of this "
                "help desk for further help.",
            }
        }


class NoHelpDesk(ZendeskError):
    """The Host names an account that does not exist."""

    status = 404
    error = "NoHelpDesk"

    def __init__(self, subdomain: str) -> None:
        super().__init__(subdomain)
        self.subdomain = subdomain

    def body(self) -> Any:
        return {
            "error": {
                "title": f"No help desk at {self.subdomain}.zendesk.com",
                "message": "There is no help desk configured at this address. This means that the address is "
                "available and that you can claim it at http://www.zendesk.com/signup",
            }
        }


class RecordNotFound(ZendeskError):
    status = 404
    error = "RecordNotFound"

    def __init__(self) -> None:
        super().__init__("Not found")


class InvalidEndpoint(ZendeskError):
    status = 404
    error = "InvalidEndpoint"

    def __init__(self) -> None:
        super().__init__("Not found")


class ParameterMissing(ZendeskError):
    status = 400
    error = "ParameterMissing"

    def __init__(self, name: str) -> None:
        super().__init__(f"Parameter {name} is required")


class InvalidParameter(ZendeskError):
    """A query parameter of the wrong form (e.g. a non-numeric start_time). Name chosen: see DIFFERENCES.md."""

    status = 400
    error = "InvalidValue"

    def body(self) -> Any:
        return {"error": self.error, "description": str(self)}


class InvalidJSON(ZendeskError):
    """A request body that is not JSON (or not an object). Shape chosen: see DIFFERENCES.md."""

    status = 400
    error = "InvalidJSON"

    def __init__(self, description: str = "The request body is not valid JSON") -> None:
        super().__init__(description)


class TooRecentStartTime(ZendeskError):
    """start_time within the last minute or in the future: the historic 422, window now one minute."""

    status = 422
    error = "InvalidValue"

    def body(self) -> Any:
        return {"error": self.error, "description": "Too recent start_time. Use a start_time older than 1 minute"}


class RecordInvalid(ZendeskError):
    """Validation failure; ``details`` maps a field to ``[{"description", "error", ...}]``."""

    status = 422
    error = "RecordInvalid"

    def __init__(self, details: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__("Record validation errors")
        self.details = details

    def body(self) -> Any:
        return {"error": self.error, "description": "Record validation errors", "details": self.details}


class TooManyValues(ZendeskError):
    status = 400
    error = "TooManyValues"

    def __init__(self, limit: int = 100) -> None:
        super().__init__(f"Parameter  cannot specify more than {limit} values")  # double space is Zendesk's
        self.limit = limit

    def body(self) -> Any:
        return {"error": self.error, "description": str(self), "max_count": self.limit}


class InvalidPaginationParameter(ZendeskError):
    """A cursor that is not one we issued (garbled, truncated, wrong encoding). Name chosen: see DIFFERENCES.md."""

    status = 400
    error = "InvalidPaginationParameter"

    def __init__(self, cursor: str) -> None:
        super().__init__(f"Invalid cursor: {cursor[:100]!r}")


class InvalidPageParameter(ZendeskError):
    """A list endpoint's ``page[size]``/``page[after]``/``page[before]`` refused, in Zendesk's words (recorded:
    "page[size] cannot be greater than 100", "page[after] is not valid")."""

    status = 400
    error = "InvalidPaginationParameter"


class SearchLimit(ZendeskError):
    """A search.json page beyond the first 1000 results of a query. Body chosen: see DIFFERENCES.md."""

    status = 422
    error = "invalid"

    def __init__(self) -> None:
        super().__init__("Invalid search: Requested response size was greater than Search Response Limits")


class RateLimitExceeded(ZendeskError):
    status = 429
    error = "APIRateLimitExceeded"

    def __init__(self, retry_after: int, description: str) -> None:
        super().__init__(description)
        self.headers = {"Retry-After": str(retry_after)}

    def body(self) -> Any:
        return {"error": self.error, "description": str(self)}


class AdminUnauthorized(ZendeskError):
    """The admin API without its bearer token."""

    status = 401
    error = "AdminUnauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="zendesk-export admin"'}

    def body(self) -> Any:
        return {"error": self.error, "description": "The admin API needs Authorization: Bearer <admin token>"}


class PayloadTooLarge(ZendeskError):
    """A request body over the server's limit, refused before it is read whole. Shape chosen: DIFFERENCES.md."""

    status = 413
    error = "PayloadTooLarge"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes")


class InternalError(ZendeskError):
    """Anything that went wrong unexpectedly: the client gets this body, the server log the traceback."""

    status = 500
    error = "InternalError"

    def __init__(self) -> None:
        super().__init__("The server failed to handle this request; the error is in the server's log")


class DuplicateAccount(ZendeskError):
    """``POST /__admin/accounts`` with a name an account already has."""

    status = 409
    error = "DuplicateAccount"

    def __init__(self, name: str) -> None:
        super().__init__(f"An account named {name!r} already exists")
