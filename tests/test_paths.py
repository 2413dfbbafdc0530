"""Checked paths: check_path, path_segment and render_path (pure)."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async import ClientValidationError
from close_async._engine.http.paths import check_path, path_segment, render_path

ALLOWED = re.compile(r"[A-Za-z0-9_.~:@!$&'()*+,;=-]+")
SEGMENT_CHARS = string.ascii_letters + string.digits + "_.~:@!$&'()*+,;=-"


# -- check_path ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/lead/lead_x/", "lead/lead_x/", "lead/lead_x", "/lead/lead_x"])
def test_check_path_normalises_slashes(path: str) -> None:
    assert check_path(path) == "lead/lead_x/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("lead", "lead/"),
        ("/lead/", "lead/"),
        ("activity/call/acti_1/", "activity/call/acti_1/"),
        ("a..b/x.y/~z/", "a..b/x.y/~z/"),  # dots inside a segment are just characters
        ("custom_field/lead/", "custom_field/lead/"),
    ],
)
def test_check_path_keeps_ordinary_paths(path: str, expected: str) -> None:
    assert check_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "../",
        "..",
        "lead/../user/",
        "lead/..",
        "lead/./x/",
        "./lead/",
        "lead/?x=1",
        "lead/#frag",
        "lead?",
        "lead/%2F/",
        "lead%2F..%2Fuser/",
        "lead/%2e%2e/",
        "lead\\..\\user/",
        "lead/x y/",
        "lead/x\t/",
        "lead/x\n/",
        " lead/",
        "lead/\x00/",
        "lead/\x1b[2J/",
        "lead/\x7f/",
        "lead/é/",
        "lead/\u00a0/",
        "lead/\u2028/",
        "//evil/",
        "//evil.com/lead/",
        "https://evil/",
        "http://evil.com/api/v1/lead/",
        "lead/https://evil/",
        "",
        "/",
        "//",
        "lead//x/",
        "lead/{id}/",
        "lead/<x>/",
        'lead/"x"/',
        "a" * 1001,
    ],
)
def test_check_path_refuses(path: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        check_path(path)
    assert info.value.field == "path"


@pytest.mark.parametrize("path", [None, 1, b"lead/", ["lead"], ("lead",)])
def test_check_path_refuses_non_strings(path: object) -> None:
    with pytest.raises(ClientValidationError) as info:
        check_path(path)
    assert info.value.field == "path"


def test_check_path_accepts_up_to_the_length_limit() -> None:
    assert check_path("a" * 1000) == "a" * 1000 + "/"


def test_check_path_message_shows_no_raw_control_characters() -> None:
    with pytest.raises(ClientValidationError) as info:
        check_path("lead/\x1b[2J/")
    assert "\x1b" not in str(info.value)


def outcome(check: Callable[[object], str], value: object) -> str | ClientValidationError:
    try:
        return check(value)
    except ClientValidationError as exc:
        return exc


@given(st.text())
def test_check_path_accepts_only_safe_paths(text: str) -> None:
    path = outcome(check_path, text)
    if isinstance(path, ClientValidationError):
        assert path.field == "path"
        return
    assert path.endswith("/")
    assert not path.startswith("/")
    assert not any(c in path for c in "?#%\\")
    assert not any(c.isspace() for c in path)
    assert path.isascii()
    segments = path[:-1].split("/")
    for segment in segments:
        assert ALLOWED.fullmatch(segment), segment
        assert segment not in (".", "..")
    # Idempotent, and the leading slash makes no difference.
    assert check_path(path) == path
    assert check_path("/" + path) == path


@given(
    st.lists(st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=20), min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_check_path_accepts_every_path_of_safe_segments(
    segments: list[str], leading: bool, trailing: bool
) -> None:
    if any(s in (".", "..") for s in segments):
        with pytest.raises(ClientValidationError):
            check_path("/".join(segments))
        return
    text = ("/" if leading else "") + "/".join(segments) + ("/" if trailing else "")
    if text.startswith("//"):
        return  # cannot happen: segments are non-empty
    assert check_path(text) == "/".join(segments) + "/"


# -- path_segment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["lead_x", "acti_3fKQ1nK8zqg7PbZ0", "a.b", "x~y", "a:b", "a" * 1000]
)
def test_path_segment_accepts_ids(value: str) -> None:
    assert path_segment(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a/b",
        "/",
        "../user",
        "lead_x?x=1",
        "lead_x#f",
        "%2F",
        "lead%2e",
        "..",
        ".",
        "a b",
        " ",
        "a\tb",
        "a\nb",
        "a\\b",
        "\x00",
        "é",
        "",
        "a" * 1001,
    ],
)
def test_path_segment_refuses(value: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        path_segment(value, field="lead_id")
    assert info.value.field == "lead_id"
    assert "lead_id" in str(info.value)


@pytest.mark.parametrize("value", [None, 5, 5.0, b"lead_x", ["lead_x"], object()])
def test_path_segment_refuses_non_strings(value: object) -> None:
    with pytest.raises(ClientValidationError) as info:
        path_segment(value)
    assert info.value.field == "id"


@given(st.text())
def test_path_segment_accepts_only_one_segment(text: str) -> None:
    value = outcome(path_segment, text)
    if isinstance(value, ClientValidationError):
        assert value.field == "id"
        return
    assert value == text
    assert "/" not in value
    assert value not in (".", "..")
    assert ALLOWED.fullmatch(value)
    # One segment stays one segment in a path.
    assert check_path(f"lead/{value}/") == f"lead/{value}/"


# -- render_path --------------------------------------------------------------------------


def test_render_path_fills_placeholders() -> None:
    assert render_path("lead/{lead_id}/", {"lead_id": "lead_x"}) == "lead/lead_x/"
    assert (
        render_path("/lead/{a}/contact/{b}", {"a": "lead_1", "b": "cont_2"})
        == "lead/lead_1/contact/cont_2/"
    )
    assert render_path("x/{id}/y/{id}/", {"id": "z"}) == "x/z/y/z/"


def test_render_path_missing_value_names_the_key() -> None:
    with pytest.raises(ClientValidationError) as info:
        render_path("lead/{lead_id}/", {"other": "x"})
    assert info.value.field == "lead_id"
    assert "lead_id" in str(info.value)


def test_render_path_unused_value_names_the_key() -> None:
    with pytest.raises(ClientValidationError) as info:
        render_path("lead/{lead_id}/", {"lead_id": "lead_x", "extra": "y"})
    assert info.value.field == "extra"
    assert "extra" in str(info.value)


@pytest.mark.parametrize("hostile", ["../user", "a/b", "x?y=1", "%2F", "..", "", "{b}", 7, None])
def test_render_path_checks_each_value_as_one_segment(hostile: object) -> None:
    with pytest.raises(ClientValidationError) as info:
        render_path("lead/{lead_id}/", {"lead_id": hostile})
    assert info.value.field == "lead_id"


def test_render_path_checks_the_template_too() -> None:
    with pytest.raises(ClientValidationError) as info:
        render_path("../{lead_id}/", {"lead_id": "lead_x"})
    assert info.value.field == "path"
    with pytest.raises(ClientValidationError) as info:
        render_path("https://evil/{lead_id}/", {"lead_id": "lead_x"})
    assert info.value.field == "path"


# -- what a refusal says ------------------------------------------------------------------
# The message is what the caller reads: it names the fault and shows the value refused
# (quoted safely), so each check's own words are asserted, not just that something raised.

LONG = "a" * 1001
LONG_SHOWN = f"{'a' * 40!r}... (1001 characters)"
SEGMENT_RULE = (
    "must be one path segment (no '/', '?', '#', '%', '..', spaces or control characters)"
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "lead_id must be a string, got 5"),
        ("", "lead_id must not be empty, got ''"),
        (LONG, f"lead_id must be at most 1000 characters, got {LONG_SHOWN}"),
        ("a/b", f"lead_id {SEGMENT_RULE}, got 'a/b'"),
        ("..", f"lead_id {SEGMENT_RULE}, got '..'"),
    ],
)
def test_path_segment_says_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        path_segment(value, field="lead_id")
    assert str(info.value) == message


PARAMS_HINT = "give query parameters as params="


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (5, "path must be a string such as 'lead/' or '/lead/lead_x/', got 5"),
        ("//evil/", "path must be relative to the API base URL, not a URL, got '//evil/'"),
        (
            "https://evil/",
            "path must be relative to the API base URL, not a URL, got 'https://evil/'",
        ),
        ("lead:///x", "path must be relative to the API base URL, not a URL, got 'lead:///x'"),
        ("/", "path must name an endpoint, got '/'"),
        ("lead//x", "path must not have an empty segment ('//'), got 'lead//x'"),
        ("lead/../x", "path must not have '.' or '..' segments, got 'lead/../x'"),
        ("lead/x y/", f"path must not contain a space: {PARAMS_HINT}, got 'lead/x y/'"),
        ("lead/x\t/", f"path must not contain a space: {PARAMS_HINT}, got 'lead/x\\t/'"),
        ("lead/?x=1", f"path must not contain '?': {PARAMS_HINT}, got 'lead/?x=1'"),
        ("lead/é/", f"path must not contain '\\xe9': {PARAMS_HINT}, got 'lead/\\xe9/'"),
        (LONG, f"path must be at most 1000 characters, got {LONG_SHOWN}"),
    ],
)
def test_check_path_says_what_is_wrong(path: object, message: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        check_path(path)
    assert str(info.value) == message


# --- render_path's plan per template (one check of a template's own text) -----------------

_piece_text = st.text(alphabet="abz_/.:%?{} ", max_size=6)
_names = st.sampled_from(["id", "lead_id", "x"])
_value = st.one_of(
    st.text(alphabet="abZ09_.-/%?: ", max_size=6), st.none(), st.integers(), st.just("..")
)


@given(
    pieces=st.lists(st.tuples(_piece_text, _names), max_size=3),
    tail=_piece_text,
    values=st.dictionaries(_names, _value, max_size=3),
)
def test_render_path_answers_as_rendering_then_checking_the_whole_would(
    pieces: list[tuple[str, str]], tail: str, values: dict[str, object]
) -> None:
    # The planned path (each template's text checked once, then each value as a segment)
    # gives the same path, or the same error, as rendering and checking the whole path.
    from close_async._engine.http.paths import _render_checked

    template = "".join(f"{text}{{{name}}}" for text, name in pieces) + tail
    try:
        expected: object = _render_checked(template, values)
    except ClientValidationError as error:
        expected = (str(error), error.field)
    try:
        got: object = render_path(template, values)
    except ClientValidationError as error:
        got = (str(error), error.field)
    assert got == expected
