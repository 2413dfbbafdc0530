"""Reading Close's rate-limit signals: headers, 429 bodies, Retry-After, and the wait to honour.

The header and body samples are the recorded forms listed in the Close API facts
(origin: close-api/README.md, "Rate limits", copied here; tests never read that file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy, istr

from close_async._engine.ratelimit.info import (
    RateLimitInfo,
    parse_retry_after,
    retry_after_header,
    server_wait,
)

Info = RateLimitInfo

# --- from_headers ---------------------------------------------------------------------

HEADER_CASES: list[tuple[str, Mapping[str, str], RateLimitInfo | None]] = [
    # Recorded forms (README): comma and semicolon separators.
    ("comma", {"ratelimit": "limit=100, remaining=50, reset=5"}, Info(100, 50, 5)),
    ("semicolon", {"ratelimit": "limit=160; remaining=159; reset=8"}, Info(160, 159, 8)),
    ("name casing", {"RateLimit": "limit=160; remaining=159; reset=8"}, Info(160, 159, 8)),
    ("upper name", {"RATELIMIT": "limit=1, remaining=0, reset=2"}, Info(1, 0, 2)),
    ("any order", {"ratelimit": "reset=5, limit=100, remaining=50"}, Info(100, 50, 5)),
    ("mixed separators", {"ratelimit": "limit=100; remaining=50, reset=5"}, Info(100, 50, 5)),
    ("extra spaces", {"ratelimit": "  limit = 100 ,remaining=  50 ;  reset=5  "}, Info(100, 50, 5)),
    ("decimals", {"ratelimit": "limit=40, remaining=0, reset=0.87"}, Info(40, 0, 0.87)),
    ("leading dot", {"ratelimit": "limit=40, remaining=0, reset=.5"}, Info(40, 0, 0.5)),
    ("key casing", {"ratelimit": "Limit=100, REMAINING=50, Reset=5"}, Info(100, 50, 5)),
    ("unknown key", {"ratelimit": "limit=9, remaining=8, reset=7, policy=burst"}, Info(9, 8, 7)),
    ("unknown junk value", {"ratelimit": "w=?!, limit=9, remaining=8, reset=7"}, Info(9, 8, 7)),
    ("trailing separator", {"ratelimit": "limit=100, remaining=50, reset=5,"}, Info(100, 50, 5)),
    ("only reset", {"ratelimit": "reset=5"}, Info(None, None, 5)),
    # Malformed ratelimit headers are ignored, and nothing else is there.
    ("bad number", {"ratelimit": "limit=abc, remaining=50, reset=5"}, None),
    ("missing separator", {"ratelimit": "limit=100 remaining=50 reset=5"}, None),
    ("no equals", {"ratelimit": "limit, remaining=50, reset=5"}, None),
    ("garbage", {"ratelimit": "garbage"}, None),
    ("empty", {"ratelimit": ""}, None),
    ("negative", {"ratelimit": "limit=100, remaining=-1, reset=5"}, None),
    ("infinite", {"ratelimit": "limit=inf, remaining=0, reset=5"}, None),
    ("nan", {"ratelimit": "limit=100, remaining=0, reset=nan"}, None),
    ("exponent", {"ratelimit": "limit=1e3, remaining=0, reset=5"}, None),
    ("underscore digits", {"ratelimit": "limit=1_000, remaining=0, reset=5"}, None),
    ("non-ascii digits", {"ratelimit": "limit=١٠٠, remaining=0, reset=5"}, None),
    ("repeated key", {"ratelimit": "reset=5, reset=6"}, None),
    ("only unknown keys", {"ratelimit": "policy=burst"}, None),
    ("empty value", {"ratelimit": "limit=, remaining=1, reset=1"}, None),
    # Legacy headers (README: decimal seconds, e.g. 0.595956).
    (
        "legacy",
        {
            "X-Rate-Limit-Limit": "40",
            "X-Rate-Limit-Remaining": "39",
            "X-Rate-Limit-Reset": "0.595956",
        },
        Info(40, 39, 0.595956),
    ),
    (
        "legacy lower-case",
        {"x-rate-limit-limit": "40", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1.5"},
        Info(40, 0, 1.5),
    ),
    ("legacy reset only", {"X-RATE-LIMIT-RESET": "2"}, Info(None, None, 2)),
    (
        "legacy bad field dropped",
        {"X-Rate-Limit-Limit": "forty", "X-Rate-Limit-Remaining": "3"},
        Info(None, 3, None),
    ),
    ("legacy all bad", {"X-Rate-Limit-Limit": "x", "X-Rate-Limit-Reset": "-1"}, None),
    # Precedence: ratelimit first, legacy when ratelimit is malformed.
    (
        "ratelimit wins over legacy",
        {"ratelimit": "limit=100, remaining=50, reset=5", "X-Rate-Limit-Reset": "9"},
        Info(100, 50, 5),
    ),
    (
        "malformed ratelimit falls through to legacy",
        {"ratelimit": "limit=oops", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "3"},
        Info(None, 0, 3),
    ),
    # Nothing usable.
    ("no headers", {}, None),
    ("unrelated headers", {"Content-Type": "application/json", "Retry-After": "3"}, None),
]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [pytest.param(headers, expected, id=name) for name, headers, expected in HEADER_CASES],
)
def test_from_headers_reads_every_recorded_form(
    headers: Mapping[str, str], expected: RateLimitInfo | None
) -> None:
    assert RateLimitInfo.from_headers(headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [pytest.param(headers, expected, id=name) for name, headers, expected in HEADER_CASES],
)
def test_from_headers_reads_aiohttp_multidicts(
    headers: Mapping[str, str], expected: RateLimitInfo | None
) -> None:
    multi: CIMultiDict[str] = CIMultiDict(headers)
    assert RateLimitInfo.from_headers(multi) == expected
    assert RateLimitInfo.from_headers(CIMultiDictProxy(multi)) == expected


def test_from_headers_reads_istr_names() -> None:
    headers: CIMultiDict[str] = CIMultiDict({istr("RateLimit"): "limit=3, remaining=2, reset=1"})
    assert RateLimitInfo.from_headers(CIMultiDictProxy(headers)) == Info(3, 2, 1)


def test_from_headers_uses_the_first_of_repeated_headers() -> None:
    headers: CIMultiDict[str] = CIMultiDict(
        [("ratelimit", "limit=1, remaining=1, reset=1"), ("RateLimit", "limit=2, reset=2")]
    )
    assert RateLimitInfo.from_headers(headers) == Info(1, 1, 1)


def test_from_headers_ignores_non_string_values() -> None:
    headers: Any = {"ratelimit": 5, "x-rate-limit-reset": None, 7: "limit=1"}
    assert RateLimitInfo.from_headers(headers) is None


def test_from_headers_survives_a_broken_mapping() -> None:
    class Broken(dict[str, str]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    assert RateLimitInfo.from_headers(Broken(ratelimit="reset=1")) is None


_HEADER_NAMES = st.sampled_from(
    [
        "ratelimit",
        "RateLimit",
        "x-rate-limit-limit",
        "X-Rate-Limit-Remaining",
        "X-RATE-LIMIT-RESET",
        "Retry-After",
    ]
)


@given(st.dictionaries(st.one_of(_HEADER_NAMES, st.text()), st.text(), max_size=8))
def test_from_headers_never_raises_on_arbitrary_text(headers: dict[str, str]) -> None:
    result = RateLimitInfo.from_headers(headers)
    assert result is None or isinstance(result, RateLimitInfo)


_FIELD_RE_CHARS = st.text(alphabet="limtrsanig=,; .0123456789-", max_size=60)


@given(_FIELD_RE_CHARS)
def test_from_headers_never_raises_on_near_miss_ratelimit(value: str) -> None:
    result = RateLimitInfo.from_headers({"ratelimit": value})
    if result is not None:
        for number in (result.limit, result.remaining, result.reset):
            assert number is None or number >= 0


_NUMBER_TEXT = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False).map(
        lambda x: f"{x:.6f}"
    ),
)


@given(
    values=st.fixed_dictionaries(
        {"limit": _NUMBER_TEXT, "remaining": _NUMBER_TEXT, "reset": _NUMBER_TEXT}
    ),
    order=st.permutations(["limit", "remaining", "reset"]),
    separator=st.sampled_from([",", ";"]),
    pad=st.sampled_from(["", " ", "  "]),
    name=st.sampled_from(["ratelimit", "RateLimit", "RATELIMIT"]),
)
def test_from_headers_round_trips_generated_values(
    values: dict[str, str], order: list[str], separator: str, pad: str, name: str
) -> None:
    header = f"{separator}{pad}".join(f"{pad}{key}{pad}={pad}{values[key]}" for key in order)
    info = RateLimitInfo.from_headers({name: header})
    assert info == RateLimitInfo(
        limit=float(values["limit"]),
        remaining=float(values["remaining"]),
        reset=float(values["reset"]),
    )


# --- from_body ------------------------------------------------------------------------

WRAPPED_429 = {
    "error": {
        "rate_reset": 0.87,
        "message": "API call count exceeded for this 1 second window",
        "rate_limit": 40,
        "rate_window": 1,
        "rate_limit_type": "key",
    }
}
UNWRAPPED_429 = {"error": "Too many requests", "rate_reset": "0.87", "rate_limit": "40"}

BODY_CASES: list[tuple[str, Any, RateLimitInfo | None]] = [
    ("wrapped", WRAPPED_429, Info(limit=40, remaining=0, reset=0.87, window=1)),
    ("wrapped raw bytes", json.dumps(WRAPPED_429).encode(), Info(40, 0, 0.87, 1)),
    ("wrapped raw text", json.dumps(WRAPPED_429), Info(40, 0, 0.87, 1)),
    ("unwrapped string reset", UNWRAPPED_429, Info(limit=40, remaining=0, reset=0.87)),
    ("unwrapped reset only", {"rate_reset": "2"}, Info(None, 0, 2)),
    ("window only", {"error": {"rate_window": 60}}, Info(None, 0, None, 60)),
    ("error message only", {"error": {"message": "slow down"}}, None),
    ("error string only", {"error": "Too many requests"}, None),
    ("word reset", {"error": {"rate_reset": "soon"}}, None),
    ("boolean reset", {"error": {"rate_reset": True}}, None),
    ("negative reset", {"error": {"rate_reset": -1}}, None),
    ("nan reset", b'{"error": {"rate_reset": NaN}}', None),
    ("huge reset", {"error": {"rate_reset": 10**400}}, None),
    ("list reset", {"error": {"rate_reset": [1]}}, None),
    ("load balancer html", b"<html><body><h1>429 Too Many Requests</h1></body></html>", None),
    ("bad utf-8", b"\xff\xfe{", None),
    ("empty bytes", b"", None),
    ("none", None, None),
    ("json list", [WRAPPED_429], None),
    ("json number", 3, None),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(body, expected, id=name) for name, body, expected in BODY_CASES],
)
def test_from_body_reads_every_429_body_shape(body: Any, expected: RateLimitInfo | None) -> None:
    assert RateLimitInfo.from_body(body) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(
                st.sampled_from(["error", "rate_reset", "rate_limit", "rate_window"]), st.text()
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.one_of(_JSON, st.binary(), st.text()))
def test_from_body_never_raises(body: Any) -> None:
    result = RateLimitInfo.from_body(body)
    assert result is None or result.remaining == 0


# --- parse_retry_after ----------------------------------------------------------------

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)

RETRY_AFTER_CASES: list[tuple[str, str | None, float | None]] = [
    ("integer seconds", "120", 120.0),
    ("decimal seconds", "1.5", 1.5),
    ("zero", "0", 0.0),
    ("padded", "  3 ", 3.0),
    ("http date ahead", "Fri, 01 Mar 2024 12:00:30 GMT", 30.0),
    ("http date zone -0000", "Fri, 01 Mar 2024 12:00:10 -0000", 10.0),
    ("http date other zone", "Fri, 01 Mar 2024 13:00:05 +0100", 5.0),
    ("http date in the past", "Fri, 01 Mar 2024 11:59:00 GMT", 0.0),
    ("none", None, None),
    ("empty", "", None),
    ("blank", "   ", None),
    ("word", "soon", None),
    ("negative", "-5", None),
    ("infinite", "inf", None),
    ("nan", "nan", None),
    ("exponent", "1e3", None),
    ("bad date", "Fri, 99 Foo 2024 99:99:99 GMT", None),
    ("half a date", "Fri, 01 Mar", None),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(value, expected, id=name) for name, value, expected in RETRY_AFTER_CASES],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_treats_a_naive_now_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    assert parse_retry_after("Fri, 01 Mar 2024 12:00:30 GMT", now=naive_now) == 30.0


def test_parse_retry_after_defaults_to_the_current_time() -> None:
    ahead = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT")
    assert ahead is not None
    assert ahead > timedelta(days=365 * 7000).total_seconds()
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0


@given(st.text())
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0


# --- server_wait ----------------------------------------------------------------------

WAIT_CASES: list[tuple[str, dict[str, str], Any, float | None]] = [
    ("retry-after only", {"Retry-After": "2"}, b"", 2.0),
    ("ratelimit reset only", {"ratelimit": "limit=40, remaining=0, reset=3"}, b"", 3.0),
    ("legacy reset only", {"X-Rate-Limit-Reset": "0.595956"}, b"", 0.595956),
    ("body reset only", {}, WRAPPED_429, 0.87),
    ("body reset as raw bytes", {}, json.dumps(WRAPPED_429).encode(), 0.87),
    ("unwrapped string body reset", {}, UNWRAPPED_429, 0.87),
    (
        "header reset larger than retry-after",
        {"Retry-After": "2", "ratelimit": "limit=40, remaining=0, reset=5"},
        b"",
        5.0,
    ),
    (
        "retry-after larger than header reset",
        {"Retry-After": "10", "ratelimit": "limit=40, remaining=0, reset=5"},
        b"",
        10.0,
    ),
    (
        "body reset largest",
        {"Retry-After": "1", "ratelimit": "remaining=0; reset=0.5"},
        {"error": {"rate_reset": 4.25}},
        4.25,
    ),
    (
        "header reset applies on a 429 even with requests remaining",
        {"ratelimit": "limit=100, remaining=50, reset=8"},
        b"",
        8.0,
    ),
    (
        "header reset applies when remaining is absent",
        {"ratelimit": "limit=100, reset=6"},
        b"",
        6.0,
    ),
    ("retry-after http date", {"Retry-After": "Fri, 01 Mar 2024 12:00:07 GMT"}, None, 7.0),
    ("junk retry-after ignored", {"Retry-After": "later", "X-Rate-Limit-Reset": "1"}, None, 1.0),
    ("nothing given", {}, b"", None),
    ("html body, no headers", {}, b"<html>429 Too Many Requests</html>", None),
    ("malformed everything", {"ratelimit": "x", "Retry-After": "y"}, b"{", None),
]


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [pytest.param(h, b, e, id=name) for name, h, b, e in WAIT_CASES],
)
def test_server_wait_takes_the_largest_wait_given(
    headers: dict[str, str], body: Any, expected: float | None
) -> None:
    assert server_wait(headers, body, now=NOW) == expected
    multi: CIMultiDict[str] = CIMultiDict(headers)
    assert server_wait(CIMultiDictProxy(multi), body, now=NOW) == expected


_SECONDS = st.integers(min_value=0, max_value=10**6)


@given(
    retry_after=st.none() | _SECONDS,
    header_reset=st.none() | _SECONDS,
    body_reset=st.none() | _SECONDS,
)
def test_server_wait_is_never_shorter_than_any_signal(
    retry_after: int | None, header_reset: int | None, body_reset: int | None
) -> None:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if header_reset is not None:
        headers["ratelimit"] = f"limit=10, remaining=0, reset={header_reset}"
    body = {"error": {"rate_reset": body_reset}} if body_reset is not None else None
    given_waits = [w for w in (retry_after, header_reset, body_reset) if w is not None]
    expected = float(max(given_waits)) if given_waits else None
    assert server_wait(headers, body, now=NOW) == expected


@given(st.dictionaries(st.one_of(_HEADER_NAMES, st.text()), st.text(), max_size=6), _JSON)
def test_server_wait_never_raises(headers: dict[str, str], body: Any) -> None:
    result = server_wait(headers, body, now=NOW)
    assert result is None or result >= 0


# --- near misses that must not be read -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "limit=10, remaining=1.2.3, reset=2",
        "limit=10, remaining=1, reset=2..5",
        "limit=10, remaining=1, reset=.",
        "limit=10, remaining=1, reset=",
        "limit=10, remaining=1, reset",
        "limit=10, limit=11, reset=2",
        "limit=10=5, remaining=1, reset=2",
        "limit=10, remaining=1, reset=" + "9" * 400,  # overflows a float to infinity
    ],
)
def test_a_ratelimit_header_with_one_bad_value_is_ignored_whole(value: str) -> None:
    assert RateLimitInfo.from_headers({"ratelimit": value}) is None
    legacy = {"ratelimit": value, "X-Rate-Limit-Reset": "4"}
    assert RateLimitInfo.from_headers(legacy) == Info(None, None, 4)


def test_repeated_headers_in_a_plain_dict_the_first_wins() -> None:
    headers = {
        "RateLimit": "limit=1, remaining=1, reset=1",
        "ratelimit": "limit=2, remaining=2, reset=2",
        "Retry-After": "3",
        "retry-after": "9",
    }
    assert RateLimitInfo.from_headers(headers) == Info(1, 1, 1)
    assert retry_after_header(headers) == 3.0
    assert server_wait(headers, None) == 3.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER": " 1.5 "}, 1.5),
        ({"Retry-After": ".5"}, 0.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": ""}, None),
        ({"ratelimit": "reset=5"}, None),  # a rate-limit reset is not a Retry-After
        ({}, None),
    ],
)
def test_retry_after_header_reads_only_retry_after(
    headers: dict[str, str], expected: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert retry_after_header(headers, now=now) == expected


def test_retry_after_header_survives_a_broken_mapping() -> None:
    class Broken(dict[str, str]):
        def items(self) -> Any:
            raise RuntimeError("broken")

    assert retry_after_header(Broken({"Retry-After": "3"})) is None


def test_a_doubled_separator_inside_ratelimit_is_skipped() -> None:
    headers = {"ratelimit": "limit=10,, remaining=1;; reset=2"}
    assert RateLimitInfo.from_headers(headers) == Info(10, 1, 2)


def test_headers_after_a_name_that_is_not_text_are_still_read() -> None:
    headers: Any = {7: "limit=1", "ratelimit": "limit=10, remaining=1, reset=2"}
    assert RateLimitInfo.from_headers(headers) == Info(10, 1, 2)
