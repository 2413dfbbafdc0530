"""Typing CSV cells from the model field each column fills (pure functions, no I/O).

A CSV cell is text; Close wants JSON of the field's type. Each column named like a field of
the resource's create or update model (:func:`~close_async._types.model.request_fields`)
is converted by that field's type hint:

========================  ==============================================================
field type                cell
========================  ==============================================================
``str``                   as it is (not stripped)
``int``                   digits, with an optional sign: ``42``, ``-7``
``float``                 a decimal number: ``12``, ``-0.5``, ``1e3`` (not nan or inf)
``bool``                  ``true``/``false``, ``1``/``0``, ``yes``/``no`` (any case)
``datetime``              ISO 8601 (``2024-05-01T10:00:00Z``); no offset means UTC
``date``                  ISO 8601 (``2024-05-01``)
``Literal[...]``          one of its values, exactly
list, dict, nested model  JSON text: ``["a","b"]``, ``{"k": 1}``
``Any``                   as it is
========================  ==============================================================

Other columns (``custom.cf_...`` custom fields, which have no type here, and columns the
model does not list) stay text. The empty cell and the null token are handled before any
of this (:func:`row_body`). A cell that does not convert raises :class:`CellError`,
naming the column and what was expected.

A field with a rule of its own in the model (``duration``: 0 to 604800 seconds, an E.164
``phone``; :func:`~close_async._types.model.field_checks`) is judged by that rule, in the
model's words, whether its cell converted or not: the CLI never states a rule twice.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from .._engine.errors import ClientValidationError
from .._engine.ids import safe_repr
from .._types.conversion import parse_datetime
from .._types.unset import Unset

__all__ = ["CellError", "Check", "check_fields", "convert_cell", "describe_type", "row_body"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class CellError(ClientValidationError):
    """A CSV cell that is not of its column's type: ``column 'value': expected ...``."""

    def __init__(self, column: str, cell: str, expected: str) -> None:
        super().__init__(
            f"column {safe_repr(column)}: expected {expected}, got {safe_repr(cell)}",
            field=column,
        )
        self.column = column


_Convert = Callable[[str], Any]


@attrs.frozen
class _Kind:
    """How one type reads a cell, what it is called in a message, and its rank in a union."""

    convert: _Convert
    expected: str
    rank: int


def _int(text: str) -> int:
    if not _INT.fullmatch(text.strip()):
        raise ValueError
    return int(text)


def _float(text: str) -> float:
    value = float(text) if _FLOAT.fullmatch(text.strip()) else math.nan
    if not math.isfinite(value):  # JSON has no nan or inf (and 1e999 is inf)
        raise ValueError
    return value


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError


def _datetime(text: str) -> str:
    return parse_datetime(text).isoformat()


def _date(text: str) -> str:
    return _dt.date.fromisoformat(text.strip()).isoformat()


def _json(kind: type) -> _Convert:
    def convert(text: str) -> Any:
        value = json.loads(text)
        if not isinstance(value, kind):
            raise ValueError
        return value

    return convert


def _literal(values: tuple[Any, ...]) -> _Convert:
    by_text = {(json.dumps(v) if not isinstance(v, str) else v): v for v in values}

    def convert(text: str) -> Any:
        return by_text[text]  # KeyError: not one of them

    return convert


# Union branches are tried in this order: the most particular first, text last.
_SCALARS: Mapping[Any, _Kind] = {
    bool: _Kind(_bool, "true or false", 1),
    int: _Kind(_int, "an integer", 2),
    float: _Kind(_float, "a number", 3),
    _dt.date: _Kind(_date, "an ISO 8601 date", 4),
    _dt.datetime: _Kind(_datetime, "an ISO 8601 datetime", 5),
    str: _Kind(str, "text", 9),
    Any: _Kind(str, "text", 9),
}


def _branches(hint: Any) -> list[Any]:
    if get_origin(hint) in (Union, types.UnionType):
        return [a for a in get_args(hint) if a not in (Unset, type(None))]
    return [hint]


def _kind(hint: Any) -> _Kind:
    known = _SCALARS.get(hint)
    if known is not None:
        return known
    origin = get_origin(hint)
    if origin is Literal:
        values = get_args(hint)
        shown = ", ".join(safe_repr(v) for v in values)
        return _Kind(_literal(values), f"one of {shown}", 0)
    if origin in (list, Sequence, tuple) or hint in (list, tuple):
        return _Kind(_json(list), "a JSON array", 6)
    if origin in (dict, Mapping) or hint is dict or attrs.has(hint):
        return _Kind(_json(dict), "a JSON object", 7)
    return _SCALARS[str]  # a type this table does not know: sent as text


@functools.cache
def _kinds(hint: Any) -> tuple[_Kind, ...]:
    # Worked out once a type: a CSV of many rows converts each column's cells the same way.
    return tuple(sorted((_kind(b) for b in _branches(hint)), key=lambda k: k.rank))


def convert_cell(text: str, hint: Any) -> Any:
    """The JSON value of the cell ``text`` for a field typed ``hint`` (see the table above).

    ``X | Unset | None`` is read as ``X``; a union of several types takes the first that
    fits, in the order bool, int, float, date, datetime, array, object, text. Raises
    ``ValueError`` whose message says what was expected (``an integer``).
    """
    kinds = _kinds(hint)
    for kind in kinds:
        try:
            return kind.convert(text)
        except (ValueError, KeyError, TypeError):
            continue
    raise ValueError(" or ".join(kind.expected for kind in kinds))


def describe_type(hint: Any) -> str:
    """What a cell of a field typed ``hint`` holds, for ``--help`` (``an integer``)."""
    return " or ".join(kind.expected for kind in _kinds(hint))


Check = Callable[[Any], None]
"""A field's rule: raises :class:`ClientValidationError` (in the model's words) for a bad value."""


def row_body(
    cells: Mapping[str, str | None],
    types_by_column: Mapping[str, Any],
    null_token: str,
    *,
    strict: bool = True,
    checks: Mapping[str, Check] | None = None,
) -> dict[str, Any]:
    """The JSON body of a CSV row: empty cells left out (not given), the ``null_token``
    cell as ``None``, the cells of typed columns converted (:func:`convert_cell`), every
    other cell as text; then each value whose column has a rule in ``checks`` judged by it.

    A cell that does not convert raises the column's rule's error (its cell as text is
    judged by the rule) or else :class:`CellError`; a value its rule refuses raises that
    rule's :class:`ClientValidationError`. With ``strict=False`` a cell that does not convert
    is kept as text instead and no rule is asked (the failures file's best account of a
    refused row).
    """
    body: dict[str, Any] = {}
    rules = checks or {}
    for column, cell in cells.items():
        if cell is None or cell == "":
            continue
        if cell == null_token:
            body[column] = None
            continue
        hint = types_by_column.get(column)
        if hint is None:
            body[column] = cell
            continue
        try:
            body[column] = convert_cell(cell, hint)
        except ValueError as exc:
            if not strict:
                body[column] = cell
                continue
            rule = rules.get(column)
            if rule is not None:
                rule(cell)  # the rule's own words, when it has some for this text
            raise CellError(column, cell, str(exc)) from None
    if strict:
        check_fields(body, rules)
    return body


def check_fields(body: Mapping[str, Any], checks: Mapping[str, Check]) -> None:
    """Judge each value of ``body`` whose key has a rule in ``checks``; raises the first
    rule's :class:`ClientValidationError`."""
    for key, value in body.items():
        rule = checks.get(key)
        if rule is not None:
            rule(value)
