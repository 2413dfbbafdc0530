"""Text that others chose, made safe to show: the one sanitizer for errors, logs and the CLI.

Close's messages and field errors are written by the server (or by a proxy, or by whoever
answers in its place). Written raw to a terminal, an escape sequence can retitle the window
or clear the screen, a carriage return can overwrite a line with a forged one, and a bidi
override can make text read differently from what it is. Written raw into an error's
``str()``, a 5 MB field error or one nested 900 levels deep makes a log call fail or flood.

- :func:`clean` makes one line safe for a terminal or a log, and short;
- :func:`render` flattens data (field errors) into such a line, without recursion and
  without walking more of the data than it shows;
- :func:`json_line` writes data as one JSON line that keeps it all, with every character
  a terminal could act on escaped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["SHORT_LIMIT", "TEXT_LIMIT", "clean", "json_line", "render"]

TEXT_LIMIT = 2000
"""Longest text :func:`clean` and :func:`render` return (an error's ``str()`` included)."""

SHORT_LIMIT = 200
"""Longest excerpt of something a server or caller sent that goes into one message (an
HTML page's text, aiohttp's complaint, an error's repr): enough to recognise it."""

_ELLIPSIS = "…"
_LEAF_LIMIT = 300  # one field's message: enough for any real one
_KEY_LIMIT = 60
_MAX_DEPTH = 12  # Close nests field errors two or three levels; more is not worth showing
# Work is bounded before cleaning: removing escape sequences can only shorten the text.
_SCAN_FACTOR = 4

# ECMA-48 sequences, removed whole so that none of their parameters is left as litter.
# An unterminated string sequence is not matched whole: only its introducer goes (as a
# short escape), and what follows stays visible, inert.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]                       # CSI: colours, cursor moves, erasing
    | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)    # OSC: window title, hyperlinks
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)         # DCS, SOS, PM, APC strings
    | \x1b[ -/]*[0-~]                               # the short escapes (charset, reset, ...)
    | \x9b[0-?]*[ -/]*[@-~]                         # CSI in its one-character C1 form
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)  # C1 string sequences
    """,
    re.VERBOSE,
)

_INTRODUCER = re.compile("[\x1b\x90\x98\x9b\x9d\x9e\x9f]")

_LINE_BREAKS = (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029)
# Embeddings, overrides, isolates and marks: invisible, and able to reorder what is shown.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _acted_on() -> Iterator[int]:
    """Code points a terminal (or a strict UTF-8 stream) acts on rather than shows."""
    yield from range(0x00, 0x20)  # C0, ESC and the line breaks among them
    yield 0x7F  # DEL
    yield from range(0x80, 0xA0)  # C1
    yield 0x2028
    yield 0x2029
    yield from _BIDI
    yield from range(0xD800, 0xE000)  # lone surrogates: writing one to a UTF-8 stream raises


# Line breaks become spaces so words stay apart; bidi controls go; anything else shows as
# "?" so a reader sees that something was there.
_TERMINAL_TABLE = {
    point: " " if point in _LINE_BREAKS else "" if point in _BIDI else "?" for point in _acted_on()
}


def _other_unprintable(char: str) -> str:
    if char.isprintable():
        return char
    category = unicodedata.category(char)
    if category == "Zs":  # no-break and wide spaces: printable in all but name
        return " "
    if category == "Cf":  # invisible format characters (zero-width joiners, tags, ...)
        return ""
    return "?"  # private use, unassigned


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` as one line a terminal shows as is: escape sequences removed, control
    characters as ``?``, line breaks as spaces, bidi controls dropped; at most ``limit``
    characters (cut with ``…``).

    >>> clean("\\x1b]0;pwned\\x07\\x1b[2J boom\\rFAKE LINE")
    'boom FAKE LINE'
    """
    text = text[: limit * _SCAN_FACTOR]
    # Most text has no escape at all: looking for an introducer costs half a full match.
    if _INTRODUCER.search(text):
        text = _ESCAPE_SEQUENCE.sub("", text)
    text = text.translate(_TERMINAL_TABLE)
    if not text.isprintable():  # rare: checked in C first, so the loop runs only on need
        text = "".join(_other_unprintable(char) for char in text)
    text = text.strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + _ELLIPSIS
    return text


def _key_text(key: object) -> str:
    if isinstance(key, str):
        return key if len(key) <= _KEY_LIMIT else key[: _KEY_LIMIT - 1] + _ELLIPSIS
    if isinstance(key, int) and not isinstance(key, bool):
        return _leaf_text(key)
    return f"<{type(key).__name__}>"


def _leaf_text(value: object) -> str:
    if isinstance(value, str):
        return value if len(value) <= _LEAF_LIMIT else value[: _LEAF_LIMIT - 1] + _ELLIPSIS
    if value is None or isinstance(value, (bool, int, float)):
        try:
            text = repr(value)
        except ValueError:  # an int longer than sys.get_int_max_str_digits()
            return "<a very long int>"
        return text if len(text) <= _KEY_LIMIT else text[: _KEY_LIMIT - 1] + _ELLIPSIS
    # Any other object's str() is its own code: it could be slow, huge, or hold a secret.
    return f"<{type(value).__name__}>"


def _children(value: object) -> Iterator[tuple[str | None, Any]] | None:
    """Lazily, a container's (key, item) pairs; ``None`` for a leaf. List items share their
    parent's path, so ``{"duration": ["a", "b"]}`` reads ``duration: a; duration: b``."""
    if isinstance(value, Mapping):
        return ((_key_text(key), item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ((None, item) for item in value)
    return None


def render(value: object, limit: int = TEXT_LIMIT) -> str:
    """``value`` (field errors, an ``errors`` list, any decoded JSON) as one clean line:
    ``duration: too long; custom_fields.cf_x: bad``, at most ``limit`` characters.

    Iterative, so nesting costs no stack; lazy, so a huge value costs only what is shown.
    """
    parts: list[str] = []
    used = 0
    cut = False
    stack: list[tuple[str, Iterator[tuple[str | None, Any]]]] = []
    top = _children(value)
    if top is None:
        return clean(_leaf_text(value), limit)
    stack.append(("", top))
    while stack:
        if used > limit:
            cut = True
            break
        path, children = stack[-1]
        pair = next(children, None)
        if pair is None:
            stack.pop()
            continue
        key, item = pair
        if key is not None:
            path = f"{path}.{key}" if path else key
        nested = _children(item)
        if nested is not None:
            if len(stack) < _MAX_DEPTH:
                stack.append((path, nested))
                continue
            text = f"{_ELLIPSIS} (nested deeper)"
        else:
            text = _leaf_text(item)
        part = f"{path}: {text}" if path else text
        parts.append(part)
        used += len(part) + 2
    line = clean("; ".join(parts), limit)
    if cut and not line.endswith(_ELLIPSIS):
        line = line[: max(limit - 2, 0)] + " " + _ELLIPSIS
    return line


def _json_escape(char: str) -> str:
    if char.isprintable():
        return char
    units = char.encode("utf-16-be", "surrogatepass")  # astral characters take two units
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def json_line(record: object) -> str:
    """``record`` as one line of JSON (no newline) that decodes back to the same data,
    with every character that :func:`clean` would not show as is written as a ``\\u``
    escape, so that ``cat``-ing the file is as safe as printing :func:`clean` text.
    Non-JSON values are written as their ``str()``.
    """
    text = json.dumps(record, ensure_ascii=False, default=str)
    if text.isprintable():
        return text
    # Only strings can hold such characters, and JSON allows an escape for any of theirs.
    return "".join(_json_escape(char) for char in text)
