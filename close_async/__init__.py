"""close-async: an asyncio SDK for the Close CRM API.

Its first job: push call notes and outcomes into Close fast, in parallel, through Close's
rate limits and the network's faults, without losing an update::

    from close_async import CloseClient, CallUpdate

    async with CloseClient(api_key="api_...") as close:
        call = await close.calls.update("acti_...", CallUpdate(note="Left a voicemail"))

Everything public is importable from this package; its modules are private.
"""

from ._bulk.run import (
    BatchAbortedError,
    BulkProgress,
    BulkRun,
    UpdateInterruptedError,
    UpdateResult,
)
from ._client import DEFAULT_BASE_URL, CloseClient, CloseClientView, RawResponseView
from ._engine.config import Timeout
from ._engine.engine import ClientStats
from ._engine.errors import (
    APIError,
    AuthenticationError,
    CloseError,
    ConfigurationError,
    ConnectError,
    DeadlineExceededError,
    DecodingError,
    InvalidRequestError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ._engine.limiter import RateFeedback, RateLimiter
from ._engine.local_limiter import LocalRateLimiter
from ._engine.rate_limit_info import RateLimitInfo
from ._engine.redis_limiter import RedisRateLimiter
from ._engine.response import Response
from ._engine.retry import RetryEvent, RetryPolicy
from ._resources.calls import CallsResource
from ._resources.pager import Page, Pager
from ._types.calls import UNSET, Call, CallCreate, CallUpdate, Unset

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_BASE_URL",
    "UNSET",
    "APIError",
    "AuthenticationError",
    "BatchAbortedError",
    "BulkProgress",
    "BulkRun",
    "Call",
    "CallCreate",
    "CallUpdate",
    "CallsResource",
    "ClientStats",
    "CloseClient",
    "CloseClientView",
    "CloseError",
    "ConfigurationError",
    "ConnectError",
    "DeadlineExceededError",
    "DecodingError",
    "InvalidRequestError",
    "LocalRateLimiter",
    "NotFoundError",
    "Page",
    "Pager",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateFeedback",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimiter",
    "RawResponseView",
    "RedisRateLimiter",
    "Response",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "TimeoutError",
    "TransportError",
    "Unset",
    "UpdateInterruptedError",
    "UpdateResult",
    "ValidationError",
    "__version__",
]
