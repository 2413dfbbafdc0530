"""Error text is bounded, terminal-safe and never raises; the data behind it stays whole."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientValidationError,
    CloseError,
    ConfigurationError,
    ConnectError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTimeoutError,
)
from close_async._engine.http.interpret import interpret_response
from close_async._engine.text import TEXT_LIMIT, clean, json_line, render
from tests.call_requests import update_call

PUT = update_call("acti_3fKQ1nK8zqg7PbZ0", {"note": "x"})
HOSTILE = "\x1b]0;pwned\x07\x1b[2J boom\rFAKE LINE"

API_CLASSES = [
    APIStatusError,
    BadRequestError,
    AuthenticationError,
    PaymentRequiredError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
    InternalServerError,
]
REQUEST_CLASSES = [
    APIConnectionError,
    ConnectError,
    ResponseTimeoutError,
    APITimeoutError,
    APIResponseValidationError,
]
PLAIN_CLASSES = [CloseError, ConfigurationError, ClientValidationError]
ALL_CLASSES: list[type[CloseError]] = [*API_CLASSES, *REQUEST_CLASSES, *PLAIN_CLASSES]


def is_terminal_safe(text: str) -> bool:
    """No character a terminal acts on or hides: str.isprintable() refuses controls (C0,
    DEL, C1), line breaks, bidi and other format characters, and lone surrogates."""
    return text.isprintable()


def nested(depth: int, leaf: Any = "too deep") -> dict[str, Any]:
    value: Any = leaf
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, dict):
        value = value["a"]
        depth += 1
    return depth


def make(cls: type[CloseError], message: str, **data: Any) -> CloseError:
    if cls in API_CLASSES:
        return cls(message, status=data.pop("status", 400), method="PUT", path=PUT.path, **data)  # type: ignore[call-arg]
    if cls in REQUEST_CLASSES:
        return cls(message, method="PUT", path=PUT.path)  # type: ignore[call-arg]
    return cls(message)


def frames_left() -> int:
    """How many more Python frames fit before RecursionError, measured from the caller."""
    count = 0

    def probe() -> None:
        nonlocal count
        count += 1
        probe()

    with contextlib.suppress(RecursionError):
        probe()
    return count


def at_stack_depth(headroom: int, call: Callable[[Any], Any], arg: Any) -> Any:
    """``call(arg)`` with only ``headroom`` frames left before the recursion limit."""

    def down(n: int) -> Any:
        return call(arg) if n <= 0 else down(n - 1)

    return down(frames_left() - headroom)


def deep_validation_error() -> BadRequestError:
    body = json.dumps({"error": "bad", "field-errors": {"note": nested(900)}})
    with pytest.raises(BadRequestError) as caught:
        interpret_response(PUT, 400, {}, body.encode())
    return caught.value


# ------------------------------------------------------------------------- deep nesting


def test_deeply_nested_field_errors_render_bounded_and_stay_whole_as_data() -> None:
    error = deep_validation_error()
    text = str(error)
    assert text.startswith(f"PUT {PUT.path}: bad (HTTP 400); field errors: note.a.a.a")
    assert text.endswith("… (nested deeper)")
    assert len(text) <= TEXT_LIMIT
    assert depth_of(error.field_errors["note"]) == 900
    assert depth_of(error.body["field-errors"]["note"]) == 900


@pytest.mark.parametrize("headroom", [3, 4, 5, 8, 13, 21, 34])
@pytest.mark.parametrize("show", [str, repr])
def test_str_and_repr_never_raise_when_called_near_the_recursion_limit(
    headroom: int, show: Callable[[Any], str]
) -> None:
    # Where a web framework's deep stack logs the error: the old str() recursed into the
    # 900-level mapping and raised RecursionError in place of the error being reported.
    error = deep_validation_error()
    text = at_stack_depth(headroom, show, error)
    assert 0 < len(text) <= TEXT_LIMIT


def test_with_some_headroom_the_text_is_the_full_rendering() -> None:
    error = deep_validation_error()
    assert at_stack_depth(40, str, error) == str(error)


# -------------------------------------------------------------------------- huge text


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_a_huge_message_gives_a_bounded_text(cls: type[CloseError]) -> None:
    error = make(cls, "m" * 5_000_000)
    assert len(str(error)) <= TEXT_LIMIT
    assert len(repr(error)) <= TEXT_LIMIT


def test_a_huge_field_error_gives_a_bounded_text_and_the_data_is_kept() -> None:
    huge = "x" * 5_000_000
    body = json.dumps({"field-errors": {"note": huge, "duration": "too long"}}).encode()
    with pytest.raises(BadRequestError) as caught:
        interpret_response(PUT, 400, {}, body)
    error = caught.value
    assert len(str(error)) <= TEXT_LIMIT
    assert "duration: too long" in str(error)  # one huge field does not hide the others
    assert len(repr(error)) <= TEXT_LIMIT
    assert error.field_errors["note"] == huge


def test_many_field_errors_are_cut_with_a_mark() -> None:
    error = BadRequestError(
        "Bad Request",
        status=400,
        field_errors={f"field_{i}": "wrong" for i in range(100_000)},
    )
    text = str(error)
    assert len(text) <= TEXT_LIMIT
    assert text.endswith("…")
    assert "field_0: wrong; field_1: wrong" in text
    assert len(error.field_errors) == 100_000


# ------------------------------------------------------------------------ any shape

json_leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=40,
)
# Any character at all, control characters, bidi controls and lone surrogates included.
any_text = st.text(st.characters(exclude_categories=()), max_size=300)


@given(
    cls=st.sampled_from(ALL_CLASSES),
    message=any_text,
    field_errors=st.dictionaries(any_text, json_values, max_size=5),
    errors=st.lists(json_values, max_size=3),
    depth=st.integers(0, 2000),
)
def test_str_and_repr_of_any_error_are_bounded_safe_and_keep_the_data(
    cls: type[CloseError],
    message: str,
    field_errors: dict[str, Any],
    errors: list[Any],
    depth: int,
) -> None:
    if depth:
        field_errors = {**field_errors, "deep": nested(depth)}
    error = make(cls, message, field_errors=field_errors, errors=errors)
    for text in (str(error), repr(error)):
        assert len(text) <= TEXT_LIMIT
        assert is_terminal_safe(text)
    if isinstance(error, APIStatusError):
        assert error.field_errors == field_errors
        assert error.errors == errors


@given(body=json_values, status=st.integers(400, 599))
def test_any_json_error_body_gives_a_bounded_safe_text(body: Any, status: int) -> None:
    with pytest.raises(APIStatusError) as caught:
        interpret_response(PUT, status, {}, json.dumps(body).encode())
    assert caught.value.body == body
    for text in (str(caught.value), repr(caught.value)):
        assert len(text) <= TEXT_LIMIT
        assert is_terminal_safe(text)


def test_an_errors_list_is_flattened_like_field_errors() -> None:
    body = json.dumps({"error": "refused", "errors": ["first", nested(900)]}).encode()
    with pytest.raises(InternalServerError) as caught:
        interpret_response(PUT, 500, {}, body)
    error = caught.value
    assert error.message.startswith("refused; first; a.a.a.a")  # both of Close's texts
    assert len(error.message) <= 200
    assert depth_of(error.errors[1]) == 900


# ------------------------------------------------------------------------------- repr


def test_repr_names_class_status_method_path_and_a_short_message() -> None:
    error = BadRequestError("Bad Request", status=400, method="PUT", path="activity/call/acti_x/")
    assert repr(error) == (
        "BadRequestError('Bad Request', status=400, method='PUT', path='activity/call/acti_x/')"
    )
    limited = RateLimitError("slow down", status=429, method="GET", path="p/", retry_after=1.5)
    assert repr(limited).endswith("retry_after=1.5)")
    failed = InternalServerError(
        "unavailable", status=503, method="GET", path="p/", retry_after=2.0
    )
    assert repr(failed) == (
        "InternalServerError('unavailable', status=503, method='GET', path='p/', retry_after=2.0)"
    )
    assert isinstance(failed, APIStatusError)
    assert not isinstance(failed, RateLimitError)
    assert repr(ClientValidationError("bad duration", field="duration")) == (
        "ClientValidationError('bad duration', field='duration')"
    )
    long = repr(NotFoundError("n" * 5000, status=404, method="GET", path="p/"))
    assert len(long) < 400
    assert "status=404" in long


# ------------------------------------------------------------------------ the sanitizer


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, "boom FAKE LINE"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x9b2Jcleared", "cleared"),  # the one-character C1 form of CSI
        ("\x9d0;title\x07after", "after"),  # and of OSC
        ("bell\x07 del\x7f nul\x00", "bell? del? nul?"),
        ("unterminated \x1b]0;title", "unterminated 0;title"),
        ("two\r\nlines", "two  lines"),
        ("file\u202egnp.exe", "filegnp.exe"),  # a right-to-left override
        ("isolate\u2066d\u2069", "isolated"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("no-break\u00a0space", "no-break space"),
        ("café, naïve, 日本語", "café, naïve, 日本語"),
    ],
)
def test_clean_keeps_text_and_drops_what_a_terminal_acts_on(text: str, shown: str) -> None:
    assert clean(text) == shown


@given(any_text, st.integers(1, 500))
def test_clean_is_safe_and_bounded_for_any_text(text: str, limit: int) -> None:
    shown = clean(text, limit)
    assert len(shown) <= limit
    assert is_terminal_safe(shown)


def test_render_flattens_nested_field_errors() -> None:
    field_errors = {
        "duration": "Ensure this value is less than or equal to 604800.",
        "custom_fields": {"cf_abc": "Not a valid choice.", "cf_def": {"0": "Bad item"}},
        "phone": ["Not a phone number.", "Too long."],
    }
    assert render(field_errors) == (
        "duration: Ensure this value is less than or equal to 604800.; "
        "custom_fields.cf_abc: Not a valid choice.; custom_fields.cf_def.0: Bad item; "
        "phone: Not a phone number.; phone: Too long."
    )


def test_render_shows_other_objects_by_type_only() -> None:
    class Secretive:
        def __str__(self) -> str:
            raise AssertionError("str() of an unknown object must not be called")

        __repr__ = __str__

    assert render({"x": Secretive(), 1: 2, "n": None}) == "x: <Secretive>; 1: 2; n: None"


def test_render_of_a_cycle_is_bounded() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    assert render(cycle).endswith("… (nested deeper)")


@given(json_values | st.dictionaries(any_text, any_text, max_size=4))
def test_json_line_round_trips_and_escapes_what_a_terminal_acts_on(value: Any) -> None:
    # What Close sends is decoded JSON, where a high and a low surrogate side by side are
    # one character: normalise the generated value the same way.
    value = json.loads(json.dumps(value))
    line = json_line(value)
    assert is_terminal_safe(line)
    decoded = json.loads(line)
    assert decoded == value
