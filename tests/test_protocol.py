"""The sans-I/O protocol layer: request values and builders, auth, and response meaning.

Error bodies are the recorded forms listed in the Close API facts
(origin: close-api/README.md, "Errors" and "Rate limits", copied here).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from close_async._engine.auth.credentials import auth_header
from close_async._engine.errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientValidationError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
)
from close_async._engine.http.interpret import (
    feedback_from_response,
    interpret_response,
)
from close_async._engine.http.request import Request
from close_async._engine.ratelimit.info import RateLimitInfo
from close_async._engine.ratelimit.limiter import RateFeedback
from close_async._resources.pager import Pager, paginate
from tests.call_requests import (
    CALLS_PATH,
    call_filters,
    calls_group,
    create_call,
    delete_call,
    get_call,
    update_call,
)
from tests.fake_requester import FakeRequester

CALL_ID = "acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy"

# --- Request --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("PUT", "activity/call/acti_x/", "PUT activity/call"),
        ("GET", "activity/call/", "GET activity/call"),
        ("GET", f"activity/call/{CALL_ID}/", "GET activity/call"),
        ("DELETE", f"/activity/call/{CALL_ID}", "DELETE activity/call"),
        ("put", "activity/call/acti_x/", "PUT activity/call"),
        ("POST", "activity/call/", "POST activity/call"),
        ("GET", "lead/lead_abc/", "GET lead"),
        ("GET", "contact/cont_7Hq2/", "GET contact"),
        ("GET", "opportunity/oppo_Zz9/", "GET opportunity"),
        ("GET", "activity/call/acti_x/recording/", "GET activity/call/recording"),
        # Resource names with underscores are not ids.
        ("GET", "custom_field/lead/", "GET custom_field/lead"),
        ("GET", "sms_template/", "GET sms_template"),
        ("GET", "opportunity_status/", "GET opportunity_status"),
    ],
)
def test_request_group_strips_id_segments(method: str, path: str, group: str) -> None:
    assert Request(method, path).group == group


_BASE62 = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=1,
    max_size=60,
)


@given(
    call_id=_BASE62.map(lambda body: f"acti_{body}"),
    method=st.sampled_from(["GET", "PUT", "DELETE", "get", "put"]),
)
def test_request_group_is_the_same_for_every_call_id(call_id: str, method: str) -> None:
    request = Request(method, f"activity/call/{call_id}/")
    assert request.group == f"{method.upper()} activity/call"
    assert request.group == Request(method, "activity/call/").group


@pytest.mark.parametrize(
    ("method", "idempotent"),
    [
        ("GET", True),
        ("PUT", True),
        ("DELETE", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("delete", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_request_idempotent_excludes_post(method: str, idempotent: bool) -> None:
    assert Request(method, "activity/call/").idempotent is idempotent


def test_request_is_a_frozen_value() -> None:
    request = Request("get", "activity/call/", params=(("_limit", "5"),))
    assert request.method == "GET"
    assert request == Request("GET", "activity/call/", params=(("_limit", "5"),))
    with pytest.raises(AttributeError):
        request.path = "lead/"  # type: ignore[misc]


# --- builders -------------------------------------------------------------------------


def test_get_call_builds_a_get_on_the_call() -> None:
    assert get_call(CALL_ID) == Request("GET", f"activity/call/{CALL_ID}/")


def test_delete_call_builds_a_delete_on_the_call() -> None:
    assert delete_call(CALL_ID) == Request("DELETE", f"activity/call/{CALL_ID}/")


def test_update_call_builds_a_put_with_the_body_as_given() -> None:
    body = {"note": "hello", "duration": None}
    request = update_call(CALL_ID, body)
    assert request == Request(
        "PUT", f"activity/call/{CALL_ID}/", body=b'{"note":"hello","duration":null}'
    )
    assert request.group == "PUT activity/call"


def test_update_call_copies_the_body() -> None:
    body: dict[str, Any] = {"note": "hello"}
    request = update_call(CALL_ID, body)
    body["note"] = "changed later"
    assert request.body == b'{"note":"hello"}'


def test_create_call_builds_a_post_on_the_collection() -> None:
    request = create_call({"lead_id": "lead_x", "direction": "outbound"})
    assert request == Request(
        "POST", "activity/call/", body=b'{"lead_id":"lead_x","direction":"outbound"}'
    )
    assert request.idempotent is False


@pytest.mark.parametrize("builder", [create_call, lambda body: update_call(CALL_ID, body)])
@pytest.mark.parametrize("body", [None, ["note"], "note=x"])
def test_body_builders_refuse_a_body_that_is_not_a_mapping(builder: Any, body: Any) -> None:
    with pytest.raises(
        ClientValidationError, match=r"^body must be a model or a mapping of JSON keys to values"
    ) as caught:
        builder(body)
    assert caught.value.field == "body"


BAD_CALL_IDS = [
    "",
    "acti_",
    "lead_abc",
    "../lead/lead_x",
    "acti_x/../../lead",
    "acti_x?_fields=id",
    "acti_x%2F..",
    "acti_x\n",
    None,
    123,
]


@pytest.mark.parametrize("builder", [get_call, delete_call, lambda c: update_call(c, {})])
@pytest.mark.parametrize("call_id", BAD_CALL_IDS)
def test_call_builders_refuse_bad_ids(builder: Any, call_id: Any) -> None:
    with pytest.raises(ClientValidationError) as caught:
        builder(call_id)
    assert caught.value.field == "call_id"


# The call list's request, as calls.list builds it: its filters checked by call_filters,
# walked by the shared pager (which encodes them and refuses what cannot be sent).
def list_pager(params: Mapping[str, Any]) -> Pager[Any]:
    return paginate(FakeRequester(), CALLS_PATH, call_filters(params))


async def list_request(params: Mapping[str, Any]) -> Request:
    requester = FakeRequester({"data": [], "has_more": False})
    async for _ in paginate(requester, CALLS_PATH, call_filters(params)):
        pass
    (request,) = requester.requests
    return request


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ()),
        ({"lead_id": "lead_x", "_limit": 50}, (("lead_id", "lead_x"), ("_limit", "50"))),
        ({"lead_id": None, "_skip": 0}, (("_skip", "0"),)),
        ({"_fields": ["id", "note", "duration"]}, (("_fields", "id,note,duration"),)),
        ({"_fields": ("id", "note")}, (("_fields", "id,note"),)),
        ({"_fields": {"note", "id"}}, (("_fields", "id,note"),)),
        ({"_fields": ["id", None, "note"]}, (("_fields", "id,note"),)),
        ({"id__in": ["acti_a", "acti_B2"]}, (("id__in", "acti_a,acti_B2"),)),
        ({"id__in": "acti_a, acti_b"}, (("id__in", "acti_a,acti_b"),)),
        # A set has no order: its ids are sent sorted, so one filter is always one URL.
        (
            {"id__in": {f"acti_{c}" for c in "hgfedcba"}},
            (("id__in", ",".join(f"acti_{c}" for c in "abcdefgh")),),
        ),
        (
            {"date_created__gte": datetime(2024, 3, 1, 12, 30, tzinfo=UTC)},
            (("date_created__gte", "2024-03-01T12:30:00+00:00"),),
        ),
        ({"activity_at__lt": date(2024, 3, 1)}, (("activity_at__lt", "2024-03-01"),)),
        ({"flag": True, "other": False}, (("flag", "true"), ("other", "false"))),
    ],
)
async def test_list_calls_encodes_filters(
    params: Mapping[str, Any], expected: tuple[tuple[str, str], ...]
) -> None:
    request = await list_request(params)
    assert request.method == "GET"
    assert request.path == "activity/call/"
    assert request.params == expected
    assert request.body is None


@pytest.mark.parametrize("empty", [[], (), set(), [None]])
def test_list_calls_refuses_an_empty_list_filter(empty: Any) -> None:
    with pytest.raises(ClientValidationError, match=r"^id__in must not be empty$") as caught:
        list_pager({"id__in": empty})
    assert caught.value.field == "id__in"


@pytest.mark.parametrize("value", [["acti_a", "../lead"], "acti_a,lead_b", "acti_x?x=1", ""])
def test_list_calls_checks_ids_in_id_filter(value: Any) -> None:
    with pytest.raises(ClientValidationError, match=r"^call_id must be ") as caught:
        list_pager({"id__in": value})
    assert caught.value.field == "id__in"


@pytest.mark.parametrize(("value", "shown"), [(123, "123"), (4.5, "4.5")])
def test_list_calls_refuses_a_single_id_filter_that_is_not_text(value: Any, shown: str) -> None:
    with pytest.raises(ClientValidationError, match=r"^call_id must be a string") as caught:
        list_pager({"id__in": value})
    assert caught.value.field == "id__in"
    assert str(caught.value).endswith(f"got {shown}")


# --- auth_header ----------------------------------------------------------------------


def test_auth_header_sends_an_api_key_as_basic_user_with_empty_password() -> None:
    header = auth_header(api_key="api_123abc", oauth_token=None)
    scheme, encoded = header.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"api_123abc:"


def test_auth_header_sends_an_oauth_token_as_bearer() -> None:
    assert auth_header(api_key=None, oauth_token="tok.en-1") == "Bearer tok.en-1"


@pytest.mark.parametrize(
    ("api_key", "oauth_token"),
    [
        (None, None),
        ("api_secretkey", "secrettoken"),
        ("", None),
        (None, ""),
        ("api_secret\nX-Evil: 1", None),
        ("api_secret:key", None),
        ("api secretkey", None),
        (None, "secrettoken\r\nX-Evil: 1"),
        (None, "secrét"),
    ],
)
def test_auth_header_refuses_bad_credentials_without_echoing_them(
    api_key: str | None, oauth_token: str | None
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        auth_header(api_key=api_key, oauth_token=oauth_token)
    assert "secret" not in str(caught.value)
    assert "secret" not in repr(caught.value)
    if (api_key is None) == (oauth_token is None):
        expected = "give exactly one of api_key and oauth_token"
    elif api_key is not None:
        expected = "api_key is empty or has characters an API key cannot have"
    else:
        expected = "oauth_token is empty or has characters a token cannot have"
    assert str(caught.value) == expected


# --- interpret_response: success ------------------------------------------------------

PUT_REQUEST = Request("PUT", f"activity/call/{CALL_ID}/", body=b'{"note":"x"}')


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"id": "acti_x", "note": "x"}', {"id": "acti_x", "note": "x"}),
        (200, b'{"data": [], "has_more": false}', {"data": [], "has_more": False}),
        (200, b"{}", {}),
        (200, b"", {}),
        (200, b"  \r\n", {}),
        (201, b'{"id": "acti_x"}', {"id": "acti_x"}),
        (204, b"", {}),
    ],
)
def test_interpret_response_decodes_success(status: int, body: bytes, expected: Any) -> None:
    assert interpret_response(PUT_REQUEST, status, {}, body) == expected


@pytest.mark.parametrize(
    "body", [b"<html>OK</html>", b'{"id": "acti_x"', b"\xff\xfe", b"not json at all"]
)
def test_interpret_response_refuses_a_success_body_that_is_not_json(body: bytes) -> None:
    with pytest.raises(APIResponseValidationError) as caught:
        interpret_response(PUT_REQUEST, 200, {}, body)
    assert caught.value.method == "PUT"
    assert caught.value.path == PUT_REQUEST.path


# --- interpret_response: errors -------------------------------------------------------

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
    b"<style>body { color: red; }</style><script>var secret = 1;</script></head>"
    b"<body>\n\n  <center><h1>502   Bad Gateway</h1></center>\n<hr><center>nginx</center>"
    b"</body></html>"
)

# Every status the README lists, with its recorded JSON body.
STATUS_CASES: list[tuple[int, type[APIStatusError], bytes, str]] = [
    (
        400,
        BadRequestError,
        b'{"errors": ["Invalid duration"], "field-errors": {"duration": "too large"}}',
        "Invalid duration",
    ),
    (
        401,
        AuthenticationError,
        b'{"error": "The server could not verify that you are authorized to access the URL."}',
        "could not verify",
    ),
    (402, PaymentRequiredError, b'{"error": "Your plan does not allow this."}', "plan"),
    (403, PermissionDeniedError, b'{"error": "You are not allowed to do this."}', "not allowed"),
    (
        404,
        NotFoundError,
        b'{"error": "Empty query: Call matching query does not exist."}',
        "does not exist",
    ),
    (405, APIStatusError, b'{"error": "Method not allowed"}', "Method not allowed"),
    (415, APIStatusError, b'{"error": "Unsupported format"}', "Unsupported format"),
    (
        429,
        RateLimitError,
        b'{"error": {"rate_reset": 0.87, "message": "API call count exceeded", '
        b'"rate_limit": 40, "rate_window": 1, "rate_limit_type": "key"}}',
        "API call count exceeded",
    ),
    (500, InternalServerError, b'{"error": "Internal error"}', "Internal error"),
    (502, InternalServerError, b'{"error": "Bad gateway"}', "Bad gateway"),
    (503, InternalServerError, b'{"error": "Unavailable"}', "Unavailable"),
    (504, InternalServerError, b'{"error": "Timed out"}', "Timed out"),
]


@pytest.mark.parametrize(
    ("status", "error_class", "body", "message"),
    [pytest.param(*case, id=str(case[0])) for case in STATUS_CASES],
)
def test_interpret_response_maps_json_errors(
    status: int, error_class: type[APIStatusError], body: bytes, message: str
) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, body)
    error = caught.value
    assert type(error) is error_class
    assert message in error.message
    assert (error.method, error.path, error.status) == ("PUT", PUT_REQUEST.path, status)
    assert error.body == json.loads(body)
    assert f"PUT {PUT_REQUEST.path}" in str(error)
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [pytest.param(status, error_class, id=str(status)) for status, error_class, *_ in STATUS_CASES],
)
def test_interpret_response_maps_html_errors(
    status: int, error_class: type[APIStatusError]
) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, HTML_PAGE)
    error = caught.value
    assert type(error) is error_class
    assert error.message == "502 Bad Gateway 502 Bad Gateway nginx"
    assert error.body == HTML_PAGE.decode()
    assert (error.method, error.path, error.status) == ("PUT", PUT_REQUEST.path, status)
    assert error.errors == []
    assert error.field_errors == {}


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (418, APIStatusError),
        (422, APIStatusError),
        (302, APIStatusError),
        (501, InternalServerError),
        (599, InternalServerError),
        (600, APIStatusError),
    ],
)
def test_interpret_response_maps_other_statuses_by_class(
    status: int, error_class: type[APIStatusError]
) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, b"")
    assert type(caught.value) is error_class


def test_validation_error_keeps_nested_field_errors() -> None:
    body = {
        "errors": [],
        "field-errors": {
            "duration": "Ensure this value is less than or equal to 604800.",
            "custom_fields": {"cf_abc": "Not a valid choice.", "cf_def": {"0": "Bad item"}},
        },
    }
    with pytest.raises(BadRequestError) as caught:
        interpret_response(PUT_REQUEST, 400, {}, json.dumps(body).encode())
    error = caught.value
    assert error.field_errors == body["field-errors"]
    assert error.field_errors["custom_fields"]["cf_def"] == {"0": "Bad item"}
    assert error.errors == []
    assert error.message == "Bad Request"
    assert "604800" in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "plain text"}', "plain text"),
        (b'{"error": {"message": "nested message"}}', "nested message"),
        (b'{"errors": ["first", "second"]}', "first; second"),
        (b'{"error": "  spaced\\n\\n out  "}', "spaced out"),
        (b'{"error": "  "}', "Conflict"),
        (b'{"error": 42}', "Conflict"),
        (b"{}", "Conflict"),
        (b"[]", "Conflict"),
        (b"", "Conflict"),
        (b"   \n ", "Conflict"),
        (b"plain text from a proxy", "plain text from a proxy"),
        (b"<p>a &amp; b</p>", "a & b"),
        (b"<html><body>cut <a href='x", "cut"),
        (b"bell\x07 and \x1b[31mcolour", "bell? and colour"),
    ],
)
def test_error_message_is_close_words_or_a_safe_excerpt(body: bytes, message: str) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, 409, {}, body)
    assert caught.value.message == message


def test_error_message_from_a_huge_page_is_capped() -> None:
    page = b"<html><body>" + b"<p>Something went wrong.</p>\n" * 5000 + b"</body></html>"
    with pytest.raises(InternalServerError) as caught:
        interpret_response(PUT_REQUEST, 503, {}, page)
    message = caught.value.message
    assert message.startswith("Something went wrong. Something went wrong.")
    assert len(message) <= 200
    assert "<" not in message


@given(st.binary(max_size=2000), st.integers(min_value=300, max_value=599))
def test_interpret_response_always_raises_an_api_error_for_error_statuses(
    body: bytes, status: int
) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, body)
    assert caught.value.status == status
    assert len(caught.value.message) <= 200
    assert "\n" not in caught.value.message


RATE_BODY_WRAPPED = (
    b'{"error": {"rate_reset": 0.87, "message": "slow down", "rate_limit": 40, "rate_window": 1}}'
)


@pytest.mark.parametrize(
    ("headers", "body", "retry_after"),
    [
        ({}, RATE_BODY_WRAPPED, 0.87),
        ({}, b'{"error": "Too many", "rate_reset": "1.5", "rate_limit": "40"}', 1.5),
        ({"Retry-After": "3"}, RATE_BODY_WRAPPED, 3.0),
        ({"ratelimit": "limit=40; remaining=0; reset=4"}, RATE_BODY_WRAPPED, 4.0),
        ({"X-Rate-Limit-Reset": "2.5"}, b"<html>Too Many Requests</html>", 2.5),
        ({}, b"<html>Too Many Requests</html>", None),
        ({}, b"", None),
    ],
)
def test_rate_limit_error_carries_the_wait_close_asked_for(
    headers: dict[str, str], body: bytes, retry_after: float | None
) -> None:
    with pytest.raises(RateLimitError) as caught:
        interpret_response(PUT_REQUEST, 429, headers, body)
    assert caught.value.retry_after == retry_after


# --- feedback_from_response -----------------------------------------------------------


def test_feedback_reads_the_header_on_success() -> None:
    feedback = feedback_from_response(
        200, {"RateLimit": "limit=100, remaining=50, reset=5"}, b'{"id": "acti_x"}'
    )
    assert feedback == RateFeedback(status=200, info=RateLimitInfo(100, 50, 5))
    assert not feedback.throttled


def test_feedback_without_headers_has_no_info() -> None:
    assert feedback_from_response(200, {}, b"{}") == RateFeedback(status=200)


def test_feedback_does_not_read_the_body_unless_throttled() -> None:
    # A 2xx (or 503) body shaped like a 429 body is data, not a rate-limit signal.
    body = b'{"error": {"rate_reset": 9, "rate_limit": 1}}'
    assert feedback_from_response(200, {}, body) == RateFeedback(status=200)
    assert feedback_from_response(503, {}, body) == RateFeedback(status=503)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {"ratelimit": "limit=40, remaining=0, reset=2"},
            RATE_BODY_WRAPPED,
            RateFeedback(429, RateLimitInfo(40, 0, 2), retry_after=2.0),
        ),
        (
            {"ratelimit": "limit=40, remaining=0, reset=0.5"},
            RATE_BODY_WRAPPED,
            RateFeedback(429, RateLimitInfo(40, 0, 0.5), retry_after=0.87),
        ),
        (
            {},
            RATE_BODY_WRAPPED,
            RateFeedback(429, RateLimitInfo(40, 0, 0.87, 1), retry_after=0.87),
        ),
        ({"Retry-After": "6"}, b"<html>429</html>", RateFeedback(429, None, retry_after=6.0)),
        ({}, b"<html>429</html>", RateFeedback(429, None, retry_after=None)),
    ],
)
def test_feedback_on_a_429_uses_headers_then_body(
    headers: dict[str, str], body: bytes, expected: RateFeedback
) -> None:
    assert feedback_from_response(429, headers, body) == expected
    proxy = CIMultiDictProxy(CIMultiDict(headers))
    feedback = feedback_from_response(429, proxy, body)
    assert feedback == expected
    assert feedback.throttled


@pytest.mark.parametrize(
    ("build", "method", "group"),
    [
        (lambda: get_call("acti_abc123"), "GET", "GET activity/call"),
        (lambda: update_call("acti_abc123", {}), "PUT", "PUT activity/call"),
        (lambda: delete_call("acti_abc123"), "DELETE", "DELETE activity/call"),
        (lambda: create_call({}), "POST", "POST activity/call"),
    ],
)
def test_builders_know_the_group_the_path_gives(build: Any, method: str, group: str) -> None:
    # Built inside the test, not at collection: mutation testing forks each run from a
    # process that has already collected the tests.
    request_ = build()
    assert (request_.method, request_.group) == (method, group)
    assert request_.group == Request(request_.method, request_.path).group


async def test_the_call_list_sends_in_the_group_of_its_path() -> None:
    request_ = await list_request({})
    assert (request_.method, request_.group) == ("GET", "GET activity/call")


# --- boundaries, from both sides ------------------------------------------------------


@pytest.mark.parametrize(("status", "ok"), [(199, False), (200, True), (299, True), (300, False)])
def test_success_is_exactly_the_2xx_range(status: int, ok: bool) -> None:
    if ok:
        assert interpret_response(PUT_REQUEST, status, {}, b'{"a": 1}') == {"a": 1}
    else:
        with pytest.raises(APIStatusError) as caught:
            interpret_response(PUT_REQUEST, status, {}, b'{"a": 1}')
        assert type(caught.value) is APIStatusError
        assert caught.value.status == status


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(499, APIStatusError), (500, InternalServerError), (599, InternalServerError)],
)
def test_server_errors_are_exactly_the_5xx_range(
    status: int, error_class: type[APIStatusError]
) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, b"")
    assert type(caught.value) is error_class


@pytest.mark.parametrize(
    ("status", "reason"),
    [(409, "Conflict"), (503, "Service Unavailable"), (799, "Unexpected status")],
)
def test_an_empty_error_body_gives_the_status_phrase(status: int, reason: str) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, status, {}, b"")
    assert caught.value.message == reason


@pytest.mark.parametrize("length", [199, 200])
def test_a_message_up_to_the_cap_is_kept_whole(length: int) -> None:
    text = "x" * length
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, 409, {}, json.dumps({"error": text}).encode())
    assert caught.value.message == text


def test_a_message_past_the_cap_is_cut_to_it_with_an_ellipsis() -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, 409, {}, json.dumps({"error": "y" * 201}).encode())
    assert caught.value.message == "y" * 199 + "…"


def test_a_cut_message_does_not_end_in_a_space_before_the_ellipsis() -> None:
    text = "a" * 198 + " " + "b" * 10  # the cut at 199 characters ends on the space
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, 409, {}, text.encode())
    assert caught.value.message == "a" * 198 + "…"


def test_validation_error_carries_close_errors_and_field_errors() -> None:
    body = {"errors": ["Invalid duration", "Bad phone"], "field-errors": {"duration": "too large"}}
    with pytest.raises(BadRequestError) as caught:
        interpret_response(PUT_REQUEST, 400, {}, json.dumps(body).encode())
    error = caught.value
    assert error.errors == ["Invalid duration", "Bad phone"]
    assert error.field_errors == {"duration": "too large"}
    assert error.message == "Invalid duration; Bad phone"
    assert str(error) == (
        f"PUT {PUT_REQUEST.path}: Invalid duration; Bad phone (HTTP 400); "
        "field errors: duration: too large"
    )


def test_errors_and_field_errors_of_the_wrong_shape_are_left_out() -> None:
    body = {"error": "bad", "errors": "not a list", "field-errors": ["not", "a", "mapping"]}
    with pytest.raises(BadRequestError) as caught:
        interpret_response(PUT_REQUEST, 400, {}, json.dumps(body).encode())
    assert (caught.value.errors, caught.value.field_errors) == ([], {})
    assert caught.value.message == "bad"


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (503, {"Retry-After": "5"}, 5.0),
        (503, {"retry-after": "0.25"}, 0.25),
        (503, {}, None),
        (503, {"Retry-After": "soon"}, None),
        (500, {"Retry-After": "5"}, None),
        (502, {"Retry-After": "5"}, None),
    ],
)
def test_a_503_carries_its_retry_after(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    with pytest.raises(InternalServerError) as caught:
        interpret_response(PUT_REQUEST, status, headers, b"<html>down</html>")
    assert caught.value.retry_after == retry_after
    assert caught.value.status == status
    assert caught.value.message == "down"


def test_a_non_list_errors_field_is_not_read_as_a_message() -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT_REQUEST, 409, {}, b'{"errors": "oops"}')
    assert caught.value.message == "Conflict"
    assert caught.value.errors == []


def test_a_success_body_that_is_not_json_is_quoted_in_the_error() -> None:
    with pytest.raises(APIResponseValidationError) as caught:
        interpret_response(PUT_REQUEST, 200, {}, b"<b>fine</b>")
    assert caught.value.message == "HTTP 200 body is not JSON: 'fine'"


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
def test_the_call_groups_are_method_and_collection(method: str) -> None:
    assert calls_group(method) == f"{method} activity/call"
