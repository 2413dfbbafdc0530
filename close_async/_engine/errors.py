"""The one exception tree of close-async, named as the Python ecosystem names it.

Its shape answers the question a caller asks first: did the request reach Close?

    CloseError                        root: catch this to catch everything of ours
    ├── ConfigurationError            a bad option (client, view, call, limiter, Timeout,
    │                                 RetryPolicy, BulkOptions; a ValueError too)
    ├── ClientValidationError         bad input refused before sending; ``field`` names it
    │                                 (a ValueError too)
    ├── APIError                      tied to one request: ``method``, ``path``
    │   ├── APIConnectionError        no usable answer: the request may never have reached Close
    │   │   ├── ConnectError          no connection was made: nothing was sent
    │   │   │   └── ConnectTimeoutError   ... because connecting took too long (a TimeoutError)
    │   │   ├── ResponseTimeoutError  an attempt got no answer in time (a TimeoutError; the
    │   │   │                         update may or may not have applied; retried as before)
    │   │   ├── ProtocolError         an answer the HTTP parser refused (garbage status, headers)
    │   │   └── ResponseTooLargeError an answer past ``max_response_size``: dropped, not retried
    │   ├── APITimeoutError           the whole call's timeout ran out across its attempts
    │   │                             (``phase``, ``last_error``); a builtins.TimeoutError, and
    │   │                             the base of every timeout close-async raises
    │   ├── APIResponseValidationError Close answered 2xx but not with the documented body
    │   └── APIStatusError            Close answered with an error status (``status``)
    │       ├── BadRequestError       400 (``errors`` and ``field_errors``)
    │       ├── AuthenticationError   401
    │       │   └── OAuthError        the token endpoint refused a grant (a revoked refresh token)
    │       ├── PaymentRequiredError  402
    │       ├── PermissionDeniedError 403
    │       ├── NotFoundError         404
    │       ├── RateLimitError        429 (``retry_after``: the wait Close asked for)
    │       └── InternalServerError   5xx (often an HTML page from a proxy)
    ├── WebhookVerificationError      a webhook delivery failed verification (``reason``)
    ├── BulkAbortedError              a bulk run stopped on a client-wide failure (``cause``)
    ├── BulkInterruptedError          a bulk item stopped before Close answered it
    ├── UnknownOutcomeError           a bulk create whose answer was lost: it may have landed
    └── ExportError                   an export that failed, or was not done in time

Every timeout is an :class:`APITimeoutError`, so a builtin :class:`TimeoutError`: ``except
TimeoutError`` around a call catches the whole call's timeout, an attempt's read timeout and
a connect timeout alike. An attempt's timeouts are also :class:`APIConnectionError`; the whole
call's is not (``isinstance(error, APIConnectionError)`` tells them apart). No class here is
named like a builtin unless it subclasses it.

Errors carry the method, the URL path and the status, never credentials. Their ``str()`` and
``repr()`` are one clean line of at most :data:`~close_async._engine.text.TEXT_LIMIT` characters and
never raise, whatever Close sent (escape sequences, 5 MB of text, field errors nested 900
levels deep) and however deep the stack they are called from; what Close sent stays whole
as data (``errors``, ``field_errors``, ``body``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from .phase import Phase
from .text import SHORT_LIMIT, TEXT_LIMIT, clean, render

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BulkAbortedError",
    "BulkInterruptedError",
    "ClientValidationError",
    "CloseError",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeoutError",
    "ExportError",
    "InternalServerError",
    "NotFoundError",
    "OAuthError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ResponseTimeoutError",
    "ResponseTooLargeError",
    "UnknownOutcomeError",
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
    """A bad option: the client set up wrongly (missing credentials, an insecure base URL),
    or a bad value for a view's, a call's, a limiter's, a :class:`Timeout`'s, a
    :class:`RetryPolicy`'s or :class:`BulkOptions`' option. A :class:`ValueError` too."""


class WebhookVerificationError(CloseError):
    """A webhook delivery was refused: unsigned, wrongly signed, stale, or not an event.

    ``reason`` says which check failed, in a few words; it never holds a signature key.
    Receivers answer it with a 4xx and do not act on the delivery.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook delivery refused: {reason}")
        self.reason = reason


class ClientValidationError(CloseError, ValueError):
    """Input was refused on our side, before anything was sent (a :class:`ValueError` too).

    ``field`` names the offending field (``"duration"``, ``"call_id"``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def _repr_text(self) -> str:
        return f"{type(self).__name__}({_short(self._text())!r}, field={self.field!r})"


class APIError(CloseError):
    """An error tied to one request: knows the method and the URL path (never credentials).

    The base of every error a request to Close can end in: no usable answer
    (:class:`APIConnectionError`), the call's timeout (:class:`APITimeoutError`), a body not
    as documented (:class:`APIResponseValidationError`), an error status
    (:class:`APIStatusError`).
    """

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


class APIConnectionError(APIError):
    """No usable answer came: the request may never have reached Close (or Close's answer
    was lost, cut or refused by the HTTP parser)."""


class ConnectError(APIConnectionError):
    """No connection could be made, so nothing was sent (safe to retry any method)."""


class APITimeoutError(APIError, builtins.TimeoutError):
    """A timeout: the base of every timeout close-async raises, and a builtin
    :class:`TimeoutError`, so ``except TimeoutError`` around a call catches them all.

    Raised as such (not a subclass) when the whole call's timeout ran out across its
    attempts. ``last_error`` is then the error of the last attempt that failed before, if any
    (``None`` when the timeout cut the only attempt). ``phase`` says what the call was doing
    when the time ran out, and the message says it in words: ``"rate_limiter"``,
    ``"authorizing"`` (an OAuth token refresh), ``"connecting"``, ``"waiting"`` (the
    request was handed to the connection; Close's answer had not begun), ``"reading"`` (the
    answer) or ``"retry_wait"`` (before the next attempt); ``None`` when it is not known.
    In the first three the attempt cut short was not sent; in the next two Close may have
    applied it.

    One attempt's timeouts are its subclasses :class:`ResponseTimeoutError` and
    :class:`ConnectTimeoutError`, which are also :class:`APIConnectionError`.
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

    _shows_phase = True  # in the repr; an attempt's timeout has no phase of the call to show

    def _repr_fields(self) -> list[str]:
        fields = super()._repr_fields()
        return [*fields, f"phase={self.phase!r}"] if self._shows_phase else fields


class _AttemptTimeout(APITimeoutError, APIConnectionError):
    """One attempt's timeout: no answer came in time, so it is a connection error as well."""

    # The phase and the last error are the whole call's to tell: an attempt's has neither, and
    # its repr is its message's, method's and path's, as before it was an APITimeoutError.
    _shows_phase = False

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message, method=method, path=path)


class ResponseTimeoutError(_AttemptTimeout):
    """One attempt got no answer in time (``Timeout.attempt`` or ``Timeout.read``). The
    request may have been applied; it is retried for idempotent methods only."""


class ConnectTimeoutError(ConnectError, _AttemptTimeout):
    """No connection was made within ``Timeout.connect``: nothing was sent, so it is retried
    for any method, as every :class:`ConnectError` is."""


class APIResponseValidationError(APIError):
    """Close answered with success, but the body was not what the API documents."""


class APIStatusError(APIError):
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


class BadRequestError(APIStatusError):
    """400: Close refused the request body; see ``field_errors``."""


class AuthenticationError(APIStatusError):
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


class PaymentRequiredError(APIStatusError):
    """402: the organization's plan does not allow this."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials are valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: no such object (or no access to it)."""


class _WaitAsked(APIStatusError):
    """An answer that may ask for a wait: ``retry_after``, in seconds, or ``None``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def _repr_fields(self) -> list[str]:
        return [*super()._repr_fields(), f"retry_after={self.retry_after!r}"]


class RateLimitError(_WaitAsked):
    """429: Close's rate limit was hit. ``retry_after`` is the wait Close asked for, in seconds."""


class InternalServerError(_WaitAsked):
    """5xx: Close (or a proxy in front of it) failed.

    ``retry_after`` is the wait a 503 asked for (its ``Retry-After``), in seconds, or ``None``.
    """


class ProtocolError(APIConnectionError):
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


class ResponseTooLargeError(APIConnectionError):
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


class BulkAbortedError(CloseError):
    """A bulk run (``update_many``, ``create_many``, ``delete_many``) stopped early because
    of a client-wide failure (``cause``: 401/402/403).

    Raised after the results of the items that were in flight; items after them were
    not attempted.
    """

    def __init__(self, cause: CloseError, *, attempted: int) -> None:
        super().__init__(f"batch aborted after {attempted} items: {cause}")
        self.cause = cause
        self.attempted = attempted


class BulkInterruptedError(CloseError):
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
