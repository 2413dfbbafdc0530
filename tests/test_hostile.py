"""The client against hostile or broken servers on loopback: no secret in any error chain,
answers capped in size (declared, streamed, decompressed), parser refusals as
``ProtocolError``, and a trickling answer cut by ``Timeout.read``."""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import subprocess
import sys
import tracemalloc
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl
from aiohttp import web

from benchmarks._hostile import HostileServer
from close_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BulkAbortedError,
    CloseClient,
    CloseError,
    ConfigurationError,
    ConnectError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseTimeoutError,
    ResponseTooLargeError,
    RetryPolicy,
    Timeout,
)
from close_async._engine.http.aiohttp_transport import AiohttpTransport
from close_async._engine.http.interpret import feedback_from_response, interpret_response
from close_async._engine.http.request import Request
from close_async._engine.retry import retry_reason
from close_async.models import Call, CallCreate, CallUpdate
from tests.call_requests import get_call
from tests.conftest import serve

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "api_hostile_5ecret_Key_0123456789"
TOKEN = "oauth_hostile_5ecret_Token_9876543210"
BASIC = base64.b64encode(f"{API_KEY}:".encode()).decode()
SECRETS = (API_KEY, TOKEN, BASIC)
CALL_ID = "acti_3fKQ1nK8zqg7PbZ0"
MIB = 1024 * 1024

# What a walker must not descend into: a traceback's frames hold every local of every
# function on the way (the client itself among them), which no error reporter sends
# unscrubbed; our promise is about the exception objects and what they hold.
_OPAQUE = (
    types.TracebackType,
    types.FrameType,
    types.ModuleType,
    types.CodeType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    type,
)


def reachable_texts(root: object) -> Iterator[str]:
    """Every string reachable from ``root``: chained exceptions, args, attributes (dict and
    slots), container items, and the repr and str of every object on the way."""
    seen: dict[int, object] = {}  # holding the objects keeps their ids from being reused
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen[id(obj)] = obj
        if isinstance(obj, str):
            yield obj
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            yield bytes(obj).decode("latin-1")
            continue
        if isinstance(obj, _OPAQUE):
            continue
        for show in (repr, str):
            # A repr that fails is not what this test is about.
            with contextlib.suppress(Exception):
                yield show(obj)
        if isinstance(obj, BaseException):
            stack += [obj.__cause__, obj.__context__, *obj.args]
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        stack += list(getattr(obj, "__dict__", {}).values())
        for cls in type(obj).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            for slot in (slots,) if isinstance(slots, str) else slots:
                stack.append(getattr(obj, slot, None))


def leaked(error: BaseException) -> list[str]:
    return [s for s in SECRETS if any(s in text for text in reachable_texts(error))]


def test_the_walker_finds_the_key_in_an_aiohttp_exception() -> None:
    # What the errors used to chain to: a parser refusal whose request_info holds the
    # request headers. The walker must see through it, or the tests below prove nothing.
    info = aiohttp.RequestInfo(
        yarl.URL("https://api.close.com/"),
        "GET",
        {"Authorization": f"Basic {BASIC}"},  # type: ignore[arg-type]
        yarl.URL("https://api.close.com/"),
    )
    inner = aiohttp.ClientResponseError(info, (), status=400, message="Bad status line")
    outer = APIConnectionError("x")
    outer.__context__ = inner
    assert leaked(outer) == [BASIC]


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as hostile:
        yield hostile


Scenario = Callable[[HostileServer, dict[str, Any]], Awaitable[object]]


def _client(base_url: str, creds: dict[str, Any], **options: Any) -> CloseClient:
    options.setdefault("retry", RetryPolicy.no_wait(attempts=2))
    return CloseClient(base_url=base_url, **creds, **options)


def _get(behaviour: str, **options: Any) -> Scenario:
    async def run(server: HostileServer, creds: dict[str, Any]) -> object:
        async with _client(server.base_url(behaviour), creds, **options) as close:
            return await close.calls.get(CALL_ID)

    return run


async def _connect_refused(server: HostileServer, creds: dict[str, Any]) -> object:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    async with _client("http://127.0.0.1:1/", creds) as close:
        return await close.calls.get(CALL_ID)


async def _deadline(server: HostileServer, creds: dict[str, Any]) -> object:
    async with _client(server.base_url("silent"), creds) as close:
        return await close.calls.get(CALL_ID, timeout=0.2)


async def _deadline_before_a_retry(server: HostileServer, creds: dict[str, Any]) -> object:
    retry = RetryPolicy(wait_initial=100.0, wait_max=100.0)
    async with _client(server.base_url("status-503"), creds, retry=retry) as close:
        return await close.calls.get(CALL_ID, timeout=5.0)


async def _bulk_abort(server: HostileServer, creds: dict[str, Any]) -> object:
    async with _client(server.base_url("status-401"), creds) as close:
        return [r async for r in close.calls.update_many([(CALL_ID, CallUpdate(note="x"))])]


ERROR_KINDS: dict[str, tuple[Scenario, type[CloseError]]] = {
    "connect": (_connect_refused, ConnectError),
    "attempt_timeout": (_get("silent", timeout=Timeout(attempt=0.2)), ResponseTimeoutError),
    "read_gap_timeout": (_get("silent", timeout=Timeout(read=0.2)), ResponseTimeoutError),
    "read_trickle_timeout": (
        _get("trickle-5000-20", timeout=Timeout(read=0.2)),
        ResponseTimeoutError,
    ),
    "disconnected": (_get("hangup"), APIConnectionError),
    "garbage_status": (_get("garbage"), ProtocolError),
    "echoed_credentials": (_get("echo"), ProtocolError),
    "header_too_long": (_get("longheader"), ProtocolError),
    "too_many_headers": (_get("manyheaders"), ProtocolError),
    "bad_chunk_size": (_get("badchunk"), ProtocolError),
    "bad_gzip": (_get("badgzip"), ProtocolError),
    "truncated_body": (_get("truncated"), APIConnectionError),
    "too_large_streamed": (_get(f"big-{64 * MIB}", max_response_size=MIB), ResponseTooLargeError),
    "too_large_declared": (_get(f"declared-{64 * MIB}"), ResponseTooLargeError),
    "gzip_bomb": (_get(f"gzip-{1024 * MIB}", max_response_size=MIB), ResponseTooLargeError),
    "400": (_get("status-400"), BadRequestError),
    "401": (_get("status-401"), AuthenticationError),
    "402": (_get("status-402"), PaymentRequiredError),
    "403": (_get("status-403"), PermissionDeniedError),
    "404": (_get("status-404"), NotFoundError),
    "405": (_get("status-405"), APIStatusError),
    "429": (_get("status-429"), RateLimitError),
    "500_html": (_get("html-500-100000"), InternalServerError),
    "not_json": (_get("notjson"), APIResponseValidationError),
    "not_a_call": (_get("badcall"), APIResponseValidationError),
    "deadline": (_deadline, APITimeoutError),
    "deadline_before_a_retry": (_deadline_before_a_retry, APITimeoutError),
    "bulk_abort": (_bulk_abort, BulkAbortedError),
}


async def _current_token() -> str:
    return TOKEN


CREDENTIALS = {
    "api_key": {"api_key": API_KEY},
    "oauth": {"oauth_token": TOKEN},
    # The Authorization header built per attempt, from a token provider.
    "token_provider": {"token_provider": _current_token},
}


@pytest.mark.parametrize("creds", CREDENTIALS.values(), ids=CREDENTIALS.keys())
@pytest.mark.parametrize("kind", ERROR_KINDS)
async def test_no_error_holds_a_secret_anywhere_in_its_chain(
    server: HostileServer, kind: str, creds: dict[str, Any]
) -> None:
    scenario, expected = ERROR_KINDS[kind]
    with pytest.raises(CloseError) as info:
        await scenario(server, creds)
    error = info.value
    assert type(error) is expected, repr(error)
    assert leaked(error) == []
    # Nothing of aiohttp's is kept, not even as the context a `from None` leaves behind.
    assert not any("aiohttp" in type(obj).__module__ for obj in _chain(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]
        todo += [v for v in vars(item).values() if isinstance(v, BaseException)]


async def test_protocol_errors_name_the_parsers_complaint(server: HostileServer) -> None:
    complaints = {}
    for behaviour in ("garbage", "longheader", "manyheaders", "badgzip"):
        with pytest.raises(ProtocolError) as info:
            await _get(behaviour)(server, {"api_key": API_KEY})
        complaints[behaviour] = info.value.kind
        assert info.value.kind in str(info.value)
    assert complaints == {
        "garbage": "BadStatusLine",
        "longheader": "LineTooLong",
        "manyheaders": "BadHttpMessage",
        "badgzip": "ContentEncodingError",
    }


async def test_credentials_a_server_echoes_back_are_redacted(server: HostileServer) -> None:
    with pytest.raises(ProtocolError) as info:
        await _get("echo")(server, {"api_key": API_KEY})
    assert "<redacted>" in str(info.value)


async def test_a_protocol_error_is_retried_once_for_idempotent_methods_only(
    server: HostileServer,
) -> None:
    async with _client(
        server.base_url("garbage"), {"api_key": API_KEY}, retry=RetryPolicy.no_wait(attempts=5)
    ) as close:
        with pytest.raises(ProtocolError):
            await close.calls.get(CALL_ID)
        assert close.stats.retries == {"protocol_error": 1}
        with pytest.raises(ProtocolError):
            await close.calls.create(CallCreate(lead_id="lead_1"))
    # GET: the first attempt and one retry; POST: the request reached a server, so never.
    assert server.requests["garbage"] == 3


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_retry_reasons_for_the_new_errors(method: str) -> None:
    request = Request(method, "activity/call/")
    too_large = ResponseTooLargeError("x", size=2, limit=1, status=200)
    assert retry_reason(request, too_large) is None
    expected = None if method == "POST" else "protocol_error"
    assert retry_reason(request, ProtocolError("x", kind="BadStatusLine")) == expected


async def test_an_answer_of_exactly_the_cap_is_read_and_one_byte_more_is_not(
    server: HostileServer,
) -> None:
    cap = 4096
    async with _client(server.base_url(f"json-{cap}"), {"api_key": API_KEY}) as close:
        close._engine._transport._max_response_size = cap
        body = await close.get("activity/call/")
        assert len(body["pad"]) == cap - 11
    async with _client(
        server.base_url(f"json-{cap + 1}"), {"api_key": API_KEY}, max_response_size=cap
    ) as close:
        with pytest.raises(ResponseTooLargeError) as info:
            await close.get("activity/call/")
    assert (info.value.size, info.value.limit, info.value.status) == (cap + 1, cap, 200)


async def test_a_declared_length_past_the_cap_is_refused_before_reading(
    server: HostileServer,
) -> None:
    size = 256 * MIB
    with pytest.raises(ResponseTooLargeError) as info:
        await _get(f"declared-{size}", max_response_size=MIB)(server, {"api_key": API_KEY})
    assert info.value.size == size
    assert "declared 268,435,456 bytes" in str(info.value)
    assert "1,048,576" in str(info.value)
    await server.idle()
    assert server.dropped[f"declared-{size}"] == 1
    # Only what the sockets buffered before the client hung up.
    assert server.sent[f"declared-{size}"] < 16 * MIB


async def test_a_streamed_answer_is_counted_and_dropped_at_the_cap_without_retry(
    server: HostileServer,
) -> None:
    behaviour = f"big-{256 * MIB}"
    with pytest.raises(ResponseTooLargeError) as info:
        await _get(behaviour, max_response_size=MIB, retry=RetryPolicy.no_wait())(
            server, {"api_key": API_KEY}
        )
    assert info.value.size > MIB
    await server.idle()
    assert server.requests[behaviour] == 1
    assert server.dropped[behaviour] == 1
    assert server.sent[behaviour] < 16 * MIB


async def test_a_gzip_bomb_is_counted_after_decompression(server: HostileServer) -> None:
    # The whole bomb is about 1 MB on the wire, far under a 16 MiB cap: only counting the
    # decoded bytes can trip it.
    behaviour = f"gzip-{1024 * MIB}"
    with pytest.raises(ResponseTooLargeError) as info:
        await _get(behaviour, max_response_size=16 * MIB)(server, {"api_key": API_KEY})
    assert "after decoding" in str(info.value)
    await server.idle()
    assert server.sent[behaviour] < 16 * MIB
    assert server.dropped[behaviour] == 1


async def test_an_error_status_past_the_cap_is_not_retried(server: HostileServer) -> None:
    behaviour = f"html-500-{64 * MIB}"
    with pytest.raises(ResponseTooLargeError) as info:
        await _get(behaviour, max_response_size=MIB, retry=RetryPolicy.no_wait())(
            server, {"api_key": API_KEY}
        )
    assert info.value.status == 500
    assert server.requests[behaviour] == 1


async def test_an_error_keeps_only_an_excerpt_of_a_page_body(server: HostileServer) -> None:
    behaviour = f"html-502-{2 * MIB}"
    with pytest.raises(InternalServerError) as info:
        await _get(behaviour, retry=RetryPolicy.no_wait(attempts=3))(server, {"api_key": API_KEY})
    assert server.requests[behaviour] == 3  # retried as a 502, each answer read whole
    assert isinstance(info.value.body, str)
    assert info.value.body.startswith("<html><body><h1>Bad gateway</h1>")
    assert len(info.value.body) <= 4096


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [(f"html-502-{8 * MIB}", InternalServerError), (f"big-{64 * MIB}", ResponseTooLargeError)],
)
async def test_a_caught_error_does_not_pin_the_body_it_read(
    server: HostileServer, behaviour: str, expected: type[CloseError]
) -> None:
    # Its traceback keeps every frame's locals: a body or the chunks read so far there
    # would live as long as the error (tenacity keeps one per retry, callers keep them).
    tracemalloc.start()
    try:
        with pytest.raises(expected) as info:
            await _get(behaviour, max_response_size=16 * MIB)(server, {"api_key": API_KEY})
        assert info.value.__traceback__ is not None
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2 * MIB


async def test_a_json_error_body_is_kept_decoded(server: HostileServer) -> None:
    with pytest.raises(BadRequestError) as info:
        await _get("status-400")(server, {"api_key": API_KEY})
    assert info.value.body == {"error": "hostile 400"}


async def _send_raw(server: HostileServer, behaviour: str, **options: Any) -> bytes:
    transport = AiohttpTransport(
        yarl.URL(server.base_url(behaviour)),
        timeout=Timeout(),
        max_connections=1,
        max_response_size=MIB,
    )
    try:
        return (await transport.send(get_call(CALL_ID), {}, **options)).body
    finally:
        await transport.aclose()


async def test_a_streamed_answer_of_exactly_the_cap_is_read(server: HostileServer) -> None:
    assert len(await _send_raw(server, f"big-{MIB}")) == MIB
    with pytest.raises(ResponseTooLargeError) as info:
        await _send_raw(server, f"big-{MIB + 1}")
    assert info.value.size == MIB + 1


async def test_the_transport_can_lift_the_cap_for_one_request(server: HostileServer) -> None:
    # The hook a streamed export download needs: one request past the client's cap.
    assert len(await _send_raw(server, f"big-{2 * MIB}", max_size=None)) == 2 * MIB


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_max_response_size_must_be_a_positive_whole_number(size: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_response_size"):
        CloseClient(API_KEY, max_response_size=size)


async def test_read_bounds_a_trickling_answer_as_a_whole(server: HostileServer) -> None:
    # One byte every 20 ms never leaves a 0.2 s gap, so a gap timer alone would wait for
    # all 2,000 bytes (40 s, under attempt's 60 s); the whole-body bound cuts it early.
    behaviour = "trickle-2000-20"
    timeout = Timeout(read=0.2, attempt=60)
    with pytest.raises(ResponseTimeoutError) as info:
        await _get(behaviour, timeout=timeout, retry=RetryPolicy.disabled())(
            server, {"api_key": API_KEY}
        )
    assert "Timeout.read" in str(info.value)
    await server.idle()
    assert server.sent[behaviour] < 2000


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (Timeout(connect=None, attempt=0.2), "Timeout.attempt (0.2 s)"),
        (Timeout(read=0.2, attempt=None), "Timeout.read (0.2 s)"),
    ],
)
async def test_a_timeout_error_names_the_timeout_that_fired(
    server: HostileServer, settings: Timeout, named: str
) -> None:
    with pytest.raises(ResponseTimeoutError) as info:
        await _get("silent", timeout=settings, retry=RetryPolicy.disabled())(
            server, {"api_key": API_KEY}
        )
    assert named in str(info.value)


async def test_read_leaves_a_prompt_answer_alone(server: HostileServer) -> None:
    async with _client(
        server.base_url("json-100"), {"api_key": API_KEY}, timeout=Timeout(read=5)
    ) as close:
        body = await close.get("activity/call/")
    assert body == {"pad": "x" * 89}


def test_peak_memory_is_bounded_by_the_cap() -> None:
    # In a subprocess, so the figure is the client's own peak RSS, not pytest's.
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.hostile_memory", "--json", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout)
    cap_mb = figures["cap_bytes"] / MIB
    for scenario in figures["scenarios"]:
        assert scenario["outcome"] == scenario["expected"], scenario
        # Each hostile answer is 70x the cap or more: reading one whole would blow far past
        # this bound, which leaves room for a body, a copy of it, and the decoder's text.
        bound = 3 * cap_mb * scenario["in_flight"] + 16
        assert scenario["peak_rss_delta_mb"] < bound, scenario


@pytest.fixture
async def echo_server() -> AsyncIterator[str]:
    """Quotes the request's ``Authorization`` header back in the body, as an echo service
    (or a debugging proxy) that a base URL points at by mistake does."""

    async def echo(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        status = int(request.match_info["status"])
        if request.match_info["kind"] == "json":
            body = {"error": f"refused {auth}", "field-errors": {"note": f"sent {auth}"}}
            return web.json_response(body, status=status, headers={"Retry-After": "0"})
        return web.Response(text=f"<html>you sent {auth}</html>", status=status)

    app = web.Application()
    app.router.add_route("*", "/{kind}/{status}/{tail:.*}", echo)
    async with serve(app) as url:
        yield url


@pytest.mark.parametrize("creds", CREDENTIALS.values(), ids=CREDENTIALS.keys())
@pytest.mark.parametrize(
    "answer", ["json/400", "json/401", "json/429", "json/500", "html/404", "html/503", "html/200"]
)
async def test_credentials_echoed_in_a_body_are_redacted_from_the_error(
    echo_server: str, answer: str, creds: dict[str, Any]
) -> None:
    retry = RetryPolicy.no_wait(attempts=2, rate_limit_attempts=1)
    async with _client(echo_server + answer + "/", creds, retry=retry) as close:
        with pytest.raises(CloseError) as info:
            await close.calls.get(CALL_ID)
    assert leaked(info.value) == []
    if isinstance(
        info.value, APIStatusError
    ):  # a APIResponseValidationError keeps only a tag-free excerpt
        assert "<redacted>" in str(info.value.body)


@pytest.mark.parametrize("status", [400, 429, 500])
def test_a_huge_json_error_body_is_kept_as_an_excerpt_not_decoded(status: int) -> None:
    # 1 MiB of tiny objects decodes to about 25 MB of dicts: kept whole, one error (held by
    # tenacity, a bulk result, a retry event) would cost 25 times the bytes read.
    body = b'{"error": "huge", "errors": [' + b"{}," * (MIB // 3) + b"{}]}"
    tracemalloc.start()
    try:
        with pytest.raises(APIStatusError) as info:
            interpret_response(get_call(CALL_ID), status, {"Retry-After": "0"}, body)
        feedback_from_response(status, {}, body)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(info.value.body, str)
    assert len(info.value.body) <= 4096
    assert info.value.status == status
    assert peak < 4 * MIB
    assert held < MIB


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("status-401", AuthenticationError),
        ("status-429", RateLimitError),
        ("html-503-100", InternalServerError),
    ],
)
async def test_a_callers_session_that_raises_for_status_still_gives_our_errors(
    server: HostileServer, behaviour: str, expected: type[CloseError]
) -> None:
    # Its ClientResponseError would read as a parser refusal: a 401 that does not stop a
    # batch, a 429 retried as a protocol error instead of waited out.
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        retry = RetryPolicy.no_wait(attempts=1, rate_limit_attempts=0)
        async with _client(
            server.base_url(behaviour), {"api_key": API_KEY}, session=session, retry=retry
        ) as close:
            with pytest.raises(CloseError) as info:
                await close.calls.get(CALL_ID)
    assert type(info.value) is expected


def _not_a_call(size: int) -> APIResponseValidationError:
    try:
        # No local of this frame (which the traceback keeps) holds the answer.
        Call.from_json(
            json.loads(f'{{"id": "{CALL_ID}", "duration": "bad", "pad": "{"x" * size}"}}')
        )
    except APIResponseValidationError as error:
        return error
    raise AssertionError("a Call was read")


def test_a_decoding_error_does_not_pin_the_answer_it_could_not_read() -> None:
    # Its traceback (and cattrs' errors chained to it) keep their frames' locals, the
    # decoded answer among them, for as long as the caller keeps the error.
    tracemalloc.start()
    try:
        error = _not_a_call(8 * MIB)
        assert error.__traceback__ is not None
        gc.collect()  # cattrs' errors form cycles: garbage, until collected
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "duration" in str(error)
    assert held < MIB


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    """Answers a list with a page whose second call is 8 MiB and not a Call, or (under
    ``nopage/``) with 8 MiB of JSON that is not a page."""

    pad = "x" * (8 * MIB)
    first = {"id": CALL_ID, "date_created": "2026-01-02T03:04:05+00:00"}
    bad = {"id": CALL_ID, "duration": "bad", "pad": pad}
    # Made before the test measures, so that only what the client keeps counts.
    bodies = {
        "page": json.dumps({"data": [first, bad], "has_more": False}).encode(),
        "nopage": json.dumps({"pad": pad}).encode(),
    }

    async def page(request: web.Request) -> web.Response:
        body = bodies[request.match_info["kind"]]
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("GET", "/{kind}/activity/call/", page)
    async with serve(app) as url:
        yield url


async def _collect_ids(listing: AsyncIterator[Call], seen: list[str | None]) -> None:
    async for call in listing:
        seen.append(call.id)


async def test_a_decoding_error_while_listing_does_not_pin_the_page(page_server: str) -> None:
    async with _client(page_server + "page/", {"api_key": API_KEY}) as close:
        listing = close.calls.list()
        tracemalloc.start()
        try:
            seen: list[str | None] = []
            with pytest.raises(APIResponseValidationError) as info:
                await _collect_ids(listing, seen)
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [c async for c in listing] == []  # the walk is over after the error
    assert seen == [CALL_ID]
    assert info.value.__traceback__ is not None
    assert held < 2 * MIB


async def test_an_answer_that_is_not_a_page_ends_the_listing_and_is_not_kept(
    page_server: str,
) -> None:
    # Close's document declares many lists with an empty answer: a page without "data"
    # ends the walk quietly, and its 8 MiB are let go of.
    async with _client(page_server + "nopage/", {"api_key": API_KEY}) as close:
        listing = close.calls.list()
        tracemalloc.start()
        try:
            items = [call async for call in listing]
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert items == []
    assert held < 2 * MIB
