"""close-async: an asyncio SDK for the Close CRM API.

Its first job: push call notes and outcomes into Close fast, in parallel, through Close's
rate limits and the network's faults, without losing an update::

    from close_async import CloseClient
    from close_async.models import CallUpdate

    async with CloseClient(api_key="api_...") as close:
        call = await close.calls.update("acti_...", CallUpdate(note="Left a voicemail"))

Every resource group of Close's API hangs on the client (``close.leads``,
``close.activities.notes``, ...), generated from Close's OpenAPI document; every model is
in :mod:`close_async.models` (imported from there only).

This package exports the client, its options, every error, the core types, the limiters and
OAuth; :mod:`close_async.models`, :mod:`close_async.webhooks` and :mod:`close_async.testing`
are the other public modules, every other module is private. Resources and models load on
first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._bulk.run import (
    BulkOptions,
    BulkProgress,
    BulkResult,
    BulkRun,
    BulkState,
    InDoubt,
)
from ._bulk.settle import settle_by_custom_field
from ._client import DEFAULT_BASE_URL, CloseClient
from ._engine.config import Timeout
from ._engine.engine import ClientStats
from ._engine.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BulkAbortedError,
    BulkInterruptedError,
    ClientValidationError,
    CloseError,
    ConfigurationError,
    ConnectError,
    ConnectTimeoutError,
    ExportError,
    InternalServerError,
    NotFoundError,
    OAuthError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseTimeoutError,
    ResponseTooLargeError,
    UnknownOutcomeError,
    WebhookVerificationError,
)
from ._engine.http.response import Response
from ._engine.ratelimit.info import RateLimitInfo
from ._engine.ratelimit.limiter import RateFeedback, RateLimiter
from ._engine.ratelimit.local import LocalRateLimiter
from ._engine.ratelimit.one_budget import OneBudgetLimiter
from ._engine.retry import RetryEvent, RetryPolicy
from ._resources.pager import Page, Pager
from ._types.unset import UNSET, Unset

if TYPE_CHECKING:
    from ._blocking.bulk import BlockingBulkRun
    from ._blocking.client import BlockingCloseClient
    from ._blocking.pager import BlockingPager
    from ._engine.auth.oauth import OAuthRefresher, TokenProvider, exchange_code, revoke_token
    from ._engine.auth.oauth_protocol import DEFAULT_TOKEN_URL, OAuthTokens
    from ._engine.ratelimit.redis import RedisRateLimiter
    from ._resources.slicer import SliceOptions
    from ._types.model import Model, RequestModel

# Names loaded when first read, by the module that holds them: OAuth (only OAuth apps need
# it), the Redis limiter (and the redis client it may import) and the model bases.
_LAZY = {
    # The blocking client (sync code) and what its methods return: loaded by sync code only.
    "BlockingBulkRun": "._blocking.bulk",
    "BlockingCloseClient": "._blocking.client",
    "BlockingPager": "._blocking.pager",
    "DEFAULT_TOKEN_URL": "._engine.auth.oauth_protocol",
    "OAuthRefresher": "._engine.auth.oauth",
    "OAuthTokens": "._engine.auth.oauth_protocol",
    "TokenProvider": "._engine.auth.oauth",
    "exchange_code": "._engine.auth.oauth",
    "revoke_token": "._engine.auth.oauth",
    "RedisRateLimiter": "._engine.ratelimit.redis",
    "Model": "._types.model",
    "RequestModel": "._types.model",
    # The settings of a sliced walk (``sliced=SliceOptions(max_skip=...)``): an option.
    "SliceOptions": "._resources.slicer",
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = where.partition(":")  # "module:attribute" for another name
    value = getattr(importlib.import_module(module, __name__), attribute or name)
    globals()[name] = value
    return value


__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BlockingBulkRun",
    "BlockingCloseClient",
    "BlockingPager",
    "BulkAbortedError",
    "BulkInterruptedError",
    "BulkOptions",
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkState",
    "ClientStats",
    "ClientValidationError",
    "CloseClient",
    "CloseError",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeoutError",
    "ExportError",
    "InDoubt",
    "InternalServerError",
    "LocalRateLimiter",
    "Model",
    "NotFoundError",
    "OAuthError",
    "OAuthRefresher",
    "OAuthTokens",
    "OneBudgetLimiter",
    "Page",
    "Pager",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateFeedback",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimiter",
    "RedisRateLimiter",
    "RequestModel",
    "Response",
    "ResponseTimeoutError",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "SliceOptions",
    "Timeout",
    "TokenProvider",
    "UnknownOutcomeError",
    "Unset",
    "WebhookVerificationError",
    "__version__",
    "exchange_code",
    "revoke_token",
    "settle_by_custom_field",
]
