"""The seam between the engine and aiohttp: a ``Transport`` protocol.

The engine is typed against :class:`~close_async._engine.http.transport.Transport`, so any
object with ``send``, ``post_form`` and ``aclose`` carries its requests; aiohttp's
(:class:`~close_async._engine.http.aiohttp_transport.AiohttpTransport`) is the one shipped.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Mapping

import pytest
import yarl

from close_async._engine.auth.oauth import TokenAuth
from close_async._engine.config import Timeout
from close_async._engine.engine import Engine
from close_async._engine.errors import NotFoundError
from close_async._engine.http.request import Request, build_request
from close_async._engine.http.transport import RawResponse, Transport
from close_async._engine.options import RequestOptions
from close_async._engine.ratelimit.local import LocalRateLimiter
from close_async._engine.retry import RetryPolicy


class InMemoryTransport:
    """A transport without sockets: answers from a table, and records what it was given."""

    def __init__(self, answers: Mapping[str, tuple[int, dict[str, object]]]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, str, dict[str, str], bytes | None]] = []
        self.closed = False

    async def send(
        self, request: Request, headers: Mapping[str, str], *, timeouts: Timeout | None = None
    ) -> RawResponse:
        self.sent.append((request.method, request.path, dict(headers), request.body))
        status, payload = self.answers[request.path]
        return RawResponse(
            status, {"Content-Type": "application/json"}, json.dumps(payload).encode()
        )

    async def post_form(
        self,
        url: yarl.URL,
        form: Mapping[str, str],
        *,
        secrets: tuple[str, ...],
        timeouts: Timeout,
    ) -> RawResponse:
        raise AssertionError("no OAuth in this test")

    async def aclose(self) -> None:
        self.closed = True


def engine_over(transport: Transport) -> Engine:
    options = RequestOptions(
        timeout=Timeout(), retry=RetryPolicy(attempts=1), headers={"Authorization": "x"}
    )
    return Engine(
        transport=transport,
        limiter=LocalRateLimiter(),
        base_url="http://127.0.0.1:1/api/v1/",
        options=options,
    )


@pytest.mark.parametrize("holder", [Engine, TokenAuth])
def test_the_engine_and_oauth_are_typed_against_the_protocol(holder: type) -> None:
    annotation = inspect.signature(holder.__init__).parameters["transport"].annotation
    assert annotation == "Transport"
    assert vars(sys.modules[holder.__module__])["Transport"] is Transport


async def test_an_engine_runs_over_a_transport_that_is_not_aiohttp() -> None:
    transport = InMemoryTransport(
        {"lead/lead_a/": (200, {"id": "lead_a"}), "lead/lead_b/": (404, {"error": "gone"})}
    )
    engine = engine_over(transport)
    answer = await engine.request(build_request("PUT", "lead/lead_a/", body={"name": "A"}))
    assert answer == {"id": "lead_a"}
    method, path, headers, body = transport.sent[0]
    assert (method, path, headers["Authorization"]) == ("PUT", "lead/lead_a/", "x")
    assert body is not None
    assert json.loads(body) == {"name": "A"}
    with pytest.raises(NotFoundError, match="gone"):
        await engine.request(build_request("GET", "lead/lead_b/"))
    await engine.aclose()
    assert transport.closed


def test_the_protocol_does_not_import_aiohttp() -> None:
    # The engine imports the protocol at run time; aiohttp loads with the first client only.
    code = (
        "import sys, close_async._engine.engine, close_async._engine.http.transport; "
        "assert 'aiohttp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
