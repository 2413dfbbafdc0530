"""A fake Close server for tests, demos and benchmarks: real HTTP on loopback.

    from close_async.testing import FakeClose, FakeRateLimit

    async with FakeClose(rate_limit=FakeRateLimit(20)) as fake:
        ids = fake.seed_calls(100)
        ...  # point a client at fake.base_url with the API key "test_key"
        assert fake.calls[ids[0]]["note"] == "..."

It imitates Close's call-activity API (``/api/v1/activity/call/``): authentication, field
validation, PUT semantics, rate limits in every style Close has used (see
:data:`RATE_LIMIT_STYLES`) and seeded, reproducible faults (5xx pages, connection resets,
drops after applying). ``python -m close_async.testing --help`` runs it standalone.

It also serves leads, contacts, opportunities and tasks statefully (``PUT`` is a patch;
lists page by ``_skip``/``_limit``, filter, and take ``_fields``), the event log
(``/api/v1/event/``, cursors; every change served appends an event), Advanced Filtering
(``POST /api/v1/data/search/``, cursors) and ``x-http-method-override: GET``, all behind the
same authentication, rate limits and faults:

    lead = fake.add_object("lead", name="Acme")
    fake.seed_objects("contact", 3, lead_id=lead["id"])
    assert [e["action"] for e in fake.events] == []  # seeding is not a change served
"""

from __future__ import annotations

from ._config import (
    HEADER_STYLES,
    RATE_LIMIT_PRESETS,
    RATE_LIMIT_STYLES,
    STYLES_429,
    FakeFaults,
    FakeRateLimit,
    HeaderStyle,
    Style429,
)
from ._ids import fake_call_id, fake_id
from ._oauth import FakeOAuth, FakeOAuthStats, OAuthGrant
from ._options import (
    add_fake_server_arguments,
    fake_close_from_options,
    main,
    options_from_namespace,
    serve,
)
from ._server import (
    API_PREFIX,
    CALLS_PATH,
    FakeClose,
    FakeStats,
    RecordedRequest,
    key_fingerprint,
)

__all__ = [
    "API_PREFIX",
    "CALLS_PATH",
    "HEADER_STYLES",
    "RATE_LIMIT_PRESETS",
    "RATE_LIMIT_STYLES",
    "STYLES_429",
    "FakeClose",
    "FakeFaults",
    "FakeOAuth",
    "FakeOAuthStats",
    "FakeRateLimit",
    "FakeStats",
    "HeaderStyle",
    "OAuthGrant",
    "RecordedRequest",
    "Style429",
    "add_fake_server_arguments",
    "fake_call_id",
    "fake_close_from_options",
    "fake_id",
    "key_fingerprint",
    "main",
    "options_from_namespace",
    "serve",
]
