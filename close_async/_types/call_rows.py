"""The CLI's CSV and JSON Lines rows, read into ``(call_id, CallUpdate)``."""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from .._engine.errors import ClientValidationError
from .._engine.ids import safe_repr, validate_call_id
from .conversion import json_kind, parse_datetime
from .generated.activities_calls import CallUpdate
from .unset import UNSET

__all__ = ["update_from_row"]

_ROW_FIELDS: frozenset[str] = frozenset(a.name for a in attrs.fields(CallUpdate)) - {"extra"}
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_CUSTOM_PREFIX = "custom."


def update_from_row(
    row: Mapping[str, Any],
    *,
    line: int | None = None,
    kind: Literal["csv", "json"] = "csv",
) -> tuple[str, CallUpdate]:
    """Turn one CSV or JSON Lines row into ``(call_id, CallUpdate)``.

    - ``id`` is the call id; every other key is an update field.
    - ``custom.<field_id>`` keys are gathered into ``custom_fields``, merged with a
      ``custom_fields`` key (a JSON object, or its JSON text in CSV); a field id given both
      ways is an error.
    - ``kind="csv"``: cells are text, so an empty cell means "not given" (skipped),
      ``duration`` is read from digits and ``activity_at`` from ISO 8601. A CSV cell cannot
      clear a field; use JSON Lines for that.
    - ``kind="json"``: values keep their JSON types; ``null`` clears the field.

    Unknown keys and bad values raise :class:`~close_async.ClientValidationError` naming the
    field, with ``line N:`` in front when ``line`` is given.
    """
    where = f"line {line}: " if line is not None else ""

    def fail(message: str, field: str) -> ClientValidationError:
        return ClientValidationError(f"{where}{message}", field=field)

    if not isinstance(row, Mapping):
        raise fail(f"expected an object with an 'id', got {json_kind(row)}", "id")
    values: dict[str, Any] = {}
    custom: dict[str, Any] | None = None  # None: no custom_fields key (an empty {} is kept)
    custom_columns: dict[str, Any] = {}
    call_id: object = None
    for raw_key, value in row.items():
        if raw_key is None:
            # csv.DictReader files cells beyond the header under the key None.
            raise fail("the row has more cells than the header has columns", "row")
        key = raw_key.strip() if isinstance(raw_key, str) else raw_key
        # csv.DictReader gives None for cells missing from a short row: not given, never
        # "clear", or a short row would wipe fields.
        if kind == "csv" and (value is None or value == ""):
            if key == "id":
                raise fail("the id is empty", "id")
            continue
        if key == "id":
            call_id = value
        elif (
            isinstance(key, str)
            and key.startswith(_CUSTOM_PREFIX)
            and len(key) > len(_CUSTOM_PREFIX)
        ):
            custom_columns[key[len(_CUSTOM_PREFIX) :]] = value
        elif key == "custom_fields":
            custom = _row_custom_fields(value, kind, fail)
            if custom is None:
                values["custom_fields"] = None
        elif key in _ROW_FIELDS:
            values[key] = _row_value(key, value, kind, fail)
        else:
            raise fail(
                f"unknown column {safe_repr(key)} (expected id, an update field, "
                "custom_fields or custom.<field_id>)",
                str(key),
            )

    if call_id is None:
        raise fail("the row has no 'id' (the call id)", "id")
    try:
        checked_id = validate_call_id(call_id)
    except ClientValidationError as exc:
        raise fail(str(exc).replace("call_id", "id", 1), "id") from exc

    if custom_columns:
        if values.get("custom_fields", UNSET) is None:
            raise fail(
                "custom_fields is null but custom.<field_id> columns are set", "custom_fields"
            )
        custom = custom or {}
        clash = sorted(custom.keys() & custom_columns.keys())
        if clash:
            raise fail(
                f"custom field {safe_repr(clash[0])} is set both in custom_fields and as a "
                "custom.<field_id> column",
                f"custom.{clash[0]}",
            )
        custom.update(custom_columns)
    if custom is not None:
        values["custom_fields"] = custom

    try:
        return checked_id, CallUpdate(**values)
    except ClientValidationError as exc:
        raise fail(str(exc), exc.field or "row") from exc


def _row_custom_fields(
    value: Any, kind: str, fail: Callable[[str, str], ClientValidationError]
) -> dict[str, Any] | None:
    if kind == "csv" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise fail("custom_fields must be a JSON object", "custom_fields") from None
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise fail(f"custom_fields must be an object, got {json_kind(value)}", "custom_fields")
    return dict(value)


def _row_value(
    key: str, value: Any, kind: str, fail: Callable[[str, str], ClientValidationError]
) -> Any:
    if not isinstance(value, str):
        return value
    # JSON has no datetime type, so activity_at is text in both kinds of row.
    if key == "activity_at":
        return _row_datetime(key, value, fail)
    if key == "duration" and kind == "csv":
        # A number is read as one; whether it is a duration (0 to MAX_DURATION), and what is
        # wrong with any other text, the model's rule says: one rule, one message.
        text = value.strip()
        return int(text) if _WHOLE_NUMBER.fullmatch(text) else value
    return value


def _row_datetime(
    key: str, value: str, fail: Callable[[str, str], ClientValidationError]
) -> _dt.datetime:
    try:
        parsed = parse_datetime(value, default_utc=False)
    except ValueError as exc:
        raise fail(f"{key}: {exc}", key) from None
    if parsed.tzinfo is None:
        raise fail(f"{key}: needs a time zone (such as Z or +00:00), got {safe_repr(value)}", key)
    return parsed
