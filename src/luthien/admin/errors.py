"""Admin API errors: `{"error": {"type", "message", "field"?}}` with the matching HTTP status."""

from __future__ import annotations

from enum import Enum

from starlette.responses import JSONResponse


class ApiErrorKind(Enum):
    """Each error type with its HTTP status."""

    INVALID_REQUEST = (400, "invalid_request_error")
    AUTHENTICATION = (401, "authentication_error")
    PERMISSION = (403, "permission_error")
    NOT_FOUND = (404, "not_found_error")
    METHOD_NOT_ALLOWED = (405, "method_not_allowed_error")
    CONFLICT = (409, "conflict_error")
    REQUEST_TOO_LARGE = (413, "request_too_large")
    UNAVAILABLE = (503, "unavailable_error")

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.value[0]

    @property
    def type(self) -> str:
        """The `error.type` string."""
        return self.value[1]

    @classmethod
    def for_status(cls, status: int) -> ApiErrorKind:
        """The kind for an HTTP status (400 for any status without its own kind)."""
        return next((kind for kind in cls if kind.status == status), cls.INVALID_REQUEST)


class ApiError(Exception):
    """Raised by an admin endpoint; rendered by `error_response`.

    Attributes:
        kind: the error type and status.
        message: what went wrong, for the caller.
        field: the query parameter or body field at fault, if one is.
    """

    def __init__(self, kind: ApiErrorKind, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def error_body(kind: ApiErrorKind, message: str, field: str | None = None) -> dict[str, object]:
    """The JSON error object."""
    error: dict[str, object] = {"type": kind.type, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(
    kind: ApiErrorKind, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error answer; 401s carry `WWW-Authenticate: Bearer`."""
    all_headers = dict(headers or {})
    if kind is ApiErrorKind.AUTHENTICATION:
        all_headers.setdefault("www-authenticate", 'Bearer realm="luthien-admin"')
    all_headers.setdefault("cache-control", "no-store")
    return JSONResponse(error_body(kind, message, field), status_code=kind.status, headers=all_headers)
