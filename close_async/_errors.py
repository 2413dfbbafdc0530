"""The one exception tree of close-async.

Its shape answers the question a caller asks first: did the request reach Close?

    CloseError                      root: catch this to catch everything of ours
    ├── ConfigurationError          bad client settings (no key, plain http to a remote host)
    ├── InvalidRequestError         refused before sending: a bad field or call id (ValueError too)
    ├── TransportError              the request may never have reached Close
    │   ├── ConnectError            no connection was made: nothing was sent
    │   └── TimeoutError            no answer in time (the update may or may not have applied)
    ├── DeadlineExceededError       the caller's overall deadline ran out across retries
    ├── DecodingError               Close answered 2xx but the body could not be read
    └── APIError                    Close answered with an error status
        ├── ValidationError         400 (``errors`` and ``field_errors``)
        ├── AuthenticationError     401
        ├── PaymentRequiredError    402
        ├── PermissionDeniedError   403
        ├── NotFoundError           404
        ├── RateLimitError          429 (``retry_after``: the wait Close asked for)
        └── ServerError             5xx (often an HTML page from a proxy)

Errors carry the method, the URL path and the status, never credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "CloseError",
    "ConfigurationError",
    "ConnectError",
    "DeadlineExceededError",
    "DecodingError",
    "InvalidRequestError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
]


class CloseError(Exception):
    """Root of every error close-async raises."""


class ConfigurationError(CloseError, ValueError):
    """The client was set up wrongly (missing credentials, insecure base URL, ...)."""


class InvalidRequestError(CloseError, ValueError):
    """Input was refused before anything was sent.

    ``field`` names the offending field (``"duration"``, ``"call_id"``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class _RequestError(CloseError):
    """An error tied to one request: knows the method and the URL path (never credentials)."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        return f"{where}{self.message}"


class TransportError(_RequestError):
    """The request failed below HTTP: it may never have reached Close."""


class ConnectError(TransportError):
    """No connection could be made, so nothing was sent (safe to retry any method)."""


class TimeoutError(TransportError):
    """Close did not answer in time. The request may have been applied."""


class DeadlineExceededError(_RequestError):
    """The overall deadline for one call ran out across its attempts.

    ``last_error`` is the error of the last attempt, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        last_error: BaseException | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.last_error = last_error


class DecodingError(_RequestError):
    """Close answered with success, but the body was not what the API documents."""


class APIError(_RequestError):
    """Close answered with an error status.

    Attributes: ``status``, ``method``, ``path``, ``errors`` (Close's ``errors`` list),
    ``field_errors`` (Close's ``field-errors`` mapping, possibly nested) and ``body``
    (the decoded JSON, or the raw text when the body was not JSON).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str | None = None,
        path: str | None = None,
        errors: list[Any] | None = None,
        field_errors: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status = status
        self.errors: list[Any] = list(errors or [])
        self.field_errors: dict[str, Any] = dict(field_errors or {})
        self.body = body

    def __str__(self) -> str:
        text = f"{super().__str__()} (HTTP {self.status})"
        if self.field_errors:
            text += f"; field errors: {self.field_errors}"
        return text


class ValidationError(APIError):
    """400: Close refused the request body; see ``field_errors``."""


class AuthenticationError(APIError):
    """401: the API key or OAuth token was not accepted."""


class PaymentRequiredError(APIError):
    """402: the organization's plan does not allow this."""


class PermissionDeniedError(APIError):
    """403: the credentials are valid but not allowed to do this."""


class NotFoundError(APIError):
    """404: no such call activity (or no access to it)."""


class RateLimitError(APIError):
    """429: Close's rate limit was hit. ``retry_after`` is the wait Close asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: Close (or a proxy in front of it) failed.

    ``retry_after`` is the wait a 503 asked for (its ``Retry-After``), in seconds, or ``None``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
