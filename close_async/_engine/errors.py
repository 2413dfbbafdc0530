"""The one exception tree of close-async.

Its shape answers the question a caller asks first: did the request reach Close?

    CloseError                      root: catch this to catch everything of ours
    ├── ConfigurationError          bad client settings (no key, plain http to a remote host)
    ├── InvalidRequestError         refused before sending: a bad field or call id (ValueError too)
    ├── TransportError              the request may never have reached Close
    │   ├── ConnectError            no connection was made: nothing was sent
    │   ├── TimeoutError            no answer in time (the update may or may not have applied)
    │   ├── ProtocolError           an answer the HTTP parser refused (garbage status, headers)
    │   └── ResponseTooLargeError   an answer past ``max_response_size``: dropped, not retried
    ├── DeadlineExceededError       the caller's overall deadline ran out across retries
    ├── DecodingError               Close answered 2xx but the body could not be read
    ├── WebhookVerificationError    a webhook delivery failed verification (``reason``)
    ├── BatchAbortedError           a bulk run stopped on a client-wide failure (``cause``)
    ├── UpdateInterruptedError      a bulk item stopped before Close answered it
    ├── UnknownOutcomeError         a bulk create whose answer was lost: it may have landed
    ├── ExportError                 an export that failed, or was not done in time
    └── APIError                    Close answered with an error status
        ├── ValidationError         400 (``errors`` and ``field_errors``)
        ├── AuthenticationError     401
        │   └── OAuthError          the token endpoint refused a grant (a revoked refresh token)
        ├── PaymentRequiredError    402
        ├── PermissionDeniedError   403
        ├── NotFoundError           404
        ├── RateLimitError          429 (``retry_after``: the wait Close asked for)
        └── ServerError             5xx (often an HTML page from a proxy)

Errors carry the method, the URL path and the status, never credentials. Their ``str()`` and
``repr()`` are one clean line of at most :data:`~close_async._engine.text.TEXT_LIMIT` characters and
never raise, whatever Close sent (escape sequences, 5 MB of text, field errors nested 900
levels deep) and however deep the stack they are called from; what Close sent stays whole
as data (``errors``, ``field_errors``, ``body``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .phase import Phase
from .text import SHORT_LIMIT, TEXT_LIMIT, clean, render

__all__ = [
    "APIError",
    "AuthenticationError",
    "BatchAbortedError",
    "CloseError",
    "ConfigurationError",
    "ConnectError",
    "DeadlineExceededError",
    "DecodingError",
    "ExportError",
    "InvalidRequestError",
    "NotFoundError",
    "OAuthError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "UnknownOutcomeError",
    "UpdateInterruptedError",
    "ValidationError",
    "WebhookVerificationError",
]


# Returned when even the bounded rendering fails (a RecursionError near the stack's limit):
# a constant, since anything computed could fail the same way.
_UNPRINTABLE = "(the error text could not be rendered here)"
_UNPRINTABLE_ARGS = f"({_UNPRINTABLE!r})"


class CloseError(Exception):
    """Root of every error close-async raises."""

    def __str__(self) -> str:
        # Logging calls str() wherever the error is caught, deep in a framework's stack:
        # an exception raised here would replace the error being reported.
        try:
            return clean(self._text())
        except Exception:
            return _UNPRINTABLE

    def __repr__(self) -> str:
        try:
            return clean(self._repr_text())
        except Exception:
            return type(self).__name__ + _UNPRINTABLE_ARGS

    def _text(self) -> str:
        args = self.args
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
        return render(list(args))

    def _repr_text(self) -> str:
        return f"{type(self).__name__}({_short(self._text())!r})"


def _short(text: str) -> str:
    return clean(text, SHORT_LIMIT)


class ConfigurationError(CloseError, ValueError):
    """The client was set up wrongly (missing credentials, insecure base URL, ...)."""


class WebhookVerificationError(CloseError):
    """A webhook delivery was refused: unsigned, wrongly signed, stale, or not an event.

    ``reason`` says which check failed, in a few words; it never holds a signature key.
    Receivers answer it with a 4xx and do not act on the delivery.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook delivery refused: {reason}")
        self.reason = reason


class InvalidRequestError(CloseError, ValueError):
    """Input was refused before anything was sent.

    ``field`` names the offending field (``"duration"``, ``"call_id"``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def _repr_text(self) -> str:
        return f"{type(self).__name__}({_short(self._text())!r}, field={self.field!r})"


class _RequestError(CloseError):
    """An error tied to one request: knows the method and the URL path (never credentials)."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    def _text(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        # Half the budget at most, so that what follows (field errors) still shows.
        message = clean(self.message, TEXT_LIMIT // 2) if isinstance(self.message, str) else ""
        return f"{where}{message}"

    def _repr_fields(self) -> list[str]:
        path = self.path if self.path is None else _short(str(self.path))
        return [f"method={self.method!r}", f"path={path!r}"]

    def _repr_text(self) -> str:
        message = _short(self.message) if isinstance(self.message, str) else ""
        fields = ", ".join([repr(message), *self._repr_fields()])
        return f"{type(self).__name__}({fields})"


class TransportError(_RequestError):
    """The request failed below HTTP: it may never have reached Close."""


class ConnectError(TransportError):
    """No connection could be made, so nothing was sent (safe to retry any method)."""


class TimeoutError(TransportError):
    """Close did not answer in time. The request may have been applied."""


class DeadlineExceededError(_RequestError):
    """The whole call's ``timeout=`` ran out across its attempts.

    ``last_error`` is the error of the last attempt that failed before, if any (``None``
    when the timeout cut the only attempt). ``phase`` says what the call was doing when
    the time ran out, and the message says it in words: ``"rate_limiter"``,
    ``"authorizing"`` (an OAuth token refresh), ``"connecting"``, ``"waiting"`` (the
    request was handed to the connection; Close's answer had not begun), ``"reading"`` (the
    answer) or ``"retry_wait"`` (before the next attempt); ``None`` when it is not known.
    In the first three the attempt cut short was not sent; in the next two Close may have
    applied it.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        last_error: BaseException | None = None,
        phase: Phase | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.last_error = last_error
        self.phase: Phase | None = phase

    def _repr_fields(self) -> list[str]:
        return [*super()._repr_fields(), f"phase={self.phase!r}"]


class DecodingError(_RequestError):
    """Close answered with success, but the body was not what the API documents."""


class APIError(_RequestError):
    """Close answered with an error status.

    Attributes: ``status``, ``method``, ``path``, ``errors`` (Close's ``errors`` list),
    ``field_errors`` (Close's ``field-errors`` mapping, possibly nested) and ``body``
    (the decoded JSON, or the first 4 KB of the text when the body was not JSON, or was
    JSON of more than 10,000 values).
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

    def _text(self) -> str:
        text = f"{super()._text()} (HTTP {self.status})"
        if self.field_errors:
            text += f"; field errors: {render(self.field_errors)}"
        return text

    def _repr_fields(self) -> list[str]:
        return [f"status={self.status!r}", *super()._repr_fields()]


class ValidationError(APIError):
    """400: Close refused the request body; see ``field_errors``."""


class AuthenticationError(APIError):
    """401: the API key or OAuth token was not accepted."""


class OAuthError(AuthenticationError):
    """Close's OAuth token endpoint (``/oauth2/token/``, ``/oauth2/revoke/``) refused.

    ``error`` is the OAuth error code Close gave (``"invalid_grant"``: the code or refresh
    token was used, revoked or expired, so the user must authorize the app again;
    ``"invalid_client"``: wrong client id or secret), or ``None``. A subclass of
    :class:`AuthenticationError`, so whatever stops on a refused credential stops here too.
    """

    def __init__(self, message: str, *, error: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error

    def _repr_fields(self) -> list[str]:
        return [*super()._repr_fields(), f"error={self.error!r}"]


class PaymentRequiredError(APIError):
    """402: the organization's plan does not allow this."""


class PermissionDeniedError(APIError):
    """403: the credentials are valid but not allowed to do this."""


class NotFoundError(APIError):
    """404: no such object (or no access to it)."""


class _WaitAsked(APIError):
    """An answer that may ask for a wait: ``retry_after``, in seconds, or ``None``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def _repr_fields(self) -> list[str]:
        return [*super()._repr_fields(), f"retry_after={self.retry_after!r}"]


class RateLimitError(_WaitAsked):
    """429: Close's rate limit was hit. ``retry_after`` is the wait Close asked for, in seconds."""


class ServerError(_WaitAsked):
    """5xx: Close (or a proxy in front of it) failed.

    ``retry_after`` is the wait a 503 asked for (its ``Retry-After``), in seconds, or ``None``.
    """


class ProtocolError(TransportError):
    """Close's answer was not valid HTTP (a garbage status line, a header past the parser's
    limits, too many headers, a broken body encoding). The request did reach a server, so
    it may have applied; retried at most once, for idempotent methods only.

    ``kind`` names the parser's complaint (an aiohttp exception class name, kept as text).
    """

    def __init__(
        self, message: str, *, kind: str, method: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.kind = kind


class ResponseTooLargeError(TransportError):
    """The answer was bigger than ``max_response_size``, so reading stopped there and the
    connection was dropped. Never retried: the same request would get the same answer.

    ``size`` is the byte count known when reading stopped (the declared ``Content-Length``,
    or the decoded bytes read so far, which is more than ``limit``); ``status`` the answer's
    HTTP status (the request reached Close and may have applied).
    """

    def __init__(
        self,
        message: str,
        *,
        size: int,
        limit: int,
        status: int,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.size = size
        self.limit = limit
        self.status = status


# --- what runs of many requests report ------------------------------------------------


class BatchAbortedError(CloseError):
    """A bulk run (``update_many``, ``create_many``, ``delete_many``) stopped early because
    of a client-wide failure (``cause``: 401/402/403).

    Raised after the results of the items that were in flight; items after them were
    not attempted.
    """

    def __init__(self, cause: CloseError, *, attempted: int) -> None:
        super().__init__(f"batch aborted after {attempted} items: {cause}")
        self.cause = cause
        self.attempted = attempted


class UpdateInterruptedError(CloseError):
    """The batch was stopped before Close answered this item (an update, a create or a
    delete; the message names it): it may or may not have applied. It is not in the
    journal as landed, so a rerun sends an update or a delete again (sending twice has the
    effect of once), and reports a create as in doubt (``state="unknown"``) unless
    ``settle`` finds it."""


class UnknownOutcomeError(CloseError):
    """A create was sent and its answer lost (5xx, reset, timeout): it may have landed.
    Reported with ``state="unknown"`` and the ``body``; never sent again silently."""


class ExportError(CloseError):
    """An export that ended ``failed``, or was not done within its timeout."""

    def __init__(self, message: str, *, export_id: str, status: str | None) -> None:
        super().__init__(message)
        self.export_id = export_id
        self.status = status
