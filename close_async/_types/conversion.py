"""The one cattrs converter: models to and from Close's JSON, and CLI rows to updates.

Rules of the converter (``_CONVERTER``):

- **Datetimes** are ISO 8601 both ways. Sent as ``datetime.isoformat()`` of an aware value
  (the models refuse naive ones: Close needs a zone). Read with a ``Z``, ``+00:00`` or any
  other offset, with 0 to 9 fraction digits; a response datetime without a zone
  is taken as UTC (Close stores UTC). The result is always aware.
- **Decimals** (``cost``, in US cents) are read from a string or a number (a float goes
  through ``str`` so no binary noise appears) and must be finite; sent as strings.
- **UNSET** fields are left out of request bodies; ``None`` is sent as ``null``
  (omit-if-default over fields whose only default is ``UNSET``).
- **Renames**: the ``_type`` key is the ``type`` attribute of :class:`~close_async.Call`.
- **Unknown keys** of a response are kept in ``Call.extra``, so new Close fields are not lost.
- Strings and integers are read strictly: a number is not silently turned into an id, a
  bool is not an integer. A response that breaks a rule raises
  :class:`~close_async.DecodingError` with a readable list of what was wrong where.

``update_from_row`` reads the CLI's CSV and JSON Lines rows into ``(call_id, CallUpdate)``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import types
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._engine.errors import DecodingError, InvalidRequestError
from .._engine.ids import safe_repr, validate_call_id
from .calls import UNSET, Call, CallCreate, CallUpdate, Unset

__all__ = [
    "call_from_json",
    "call_to_json",
    "converter",
    "create_to_json",
    "parse_datetime",
    "update_from_row",
    "update_to_json",
]

# ------------------------------------------------------------------------------ datetimes

# ISO 8601 as Close writes it, and the common variants (space separator, comma fraction,
# offset without a colon). Not fromisoformat: it also takes date-only, week and basic
# forms, which in a date-time field would more likely be a bug than a value.
_ISO_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
)


def parse_datetime(text: object, *, default_utc: bool = True) -> _dt.datetime:
    """Read an ISO 8601 date and time, as Close sends it, into a ``datetime``.

    Accepts ``Z``, ``+00:00``, ``+0530`` and other offsets and 0-9 fraction digits (cut
    to microseconds). Without an offset the result is UTC when ``default_utc`` is true,
    else naive (so input checks can refuse it). Raises ``ValueError`` on anything else.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 date-time string, got {safe_repr(text)}")
    m = _ISO_DATETIME.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not an ISO 8601 date-time: {safe_repr(text)}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: _dt.tzinfo | None
    if zulu:
        tz = _dt.UTC
    elif sign:
        offset = _dt.timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= _dt.timedelta(hours=24):
            raise ValueError(f"date-time offset out of range: {safe_repr(text)}")
        tz = _dt.timezone(-offset if sign == "-" else offset)
    else:
        tz = _dt.UTC if default_utc else None
    try:
        return _dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {safe_repr(text)} ({exc})") from None


# ----------------------------------------------------------------------------- converter


def _structure_datetime(value: Any, _: type) -> _dt.datetime:
    return parse_datetime(value)


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {safe_repr(value)}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    # JSON has one number type; 30.0 for a duration is still 30 seconds.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {safe_repr(value)}")


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a decimal string or number, got {safe_repr(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal string or number, got {safe_repr(value)}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite decimal, got {safe_repr(value)}")
    return number


def _structure_users(value: Any, _: type) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"expected a list of user ids, got {safe_repr(value)}")
    return tuple(_structure_str(v, str) for v in value)


def _unstructure_json_value(value: Any) -> Any:
    """Custom field values: dates and decimals become strings, containers are copied."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _unstructure_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unstructure_json_value(v) for v in value]
    return value


def _unstructure_custom_fields(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else _unstructure_json_value(value)


def _is_unset_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and Unset in get_args(tp)


def _unset_union_hook(tp: Any) -> Callable[[Any], Any]:
    """Unstructure ``T | Unset | None``: UNSET never gets here (omitted), None stays None."""
    (inner,) = [a for a in get_args(tp) if a not in (Unset, type(None))]
    if inner is _dt.datetime:
        return lambda v: None if v is None else v.isoformat()
    if get_origin(inner) is Mapping:
        return _unstructure_custom_fields
    # str, int and the status/direction/source Literals go out as they are; cattrs inlines
    # its own identity, so these fields cost one attribute read each.
    return identity


def _is_optional(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) in (Union, types.UnionType) and len(args) == 2 and type(None) in args


def _optional_structure_hook(tp: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``T | None`` with T's hook looked up once, not on every value (cattrs' default)."""
    (inner,) = [a for a in get_args(tp) if a is not type(None)]
    hook = conv.get_structure_hook(inner)
    return lambda v, _: None if v is None else hook(v, inner)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(_dt.datetime, _structure_datetime)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook_factory(_is_optional, _optional_structure_hook)
    conv.register_unstructure_hook(_dt.datetime, lambda v: v.isoformat())
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook_factory(_is_unset_union, _unset_union_hook)

    for model in (CallUpdate, CallCreate):
        # Every field defaults to UNSET, so omit-if-default means "send only what was given".
        conv.register_unstructure_hook(
            model, make_dict_unstructure_fn(model, conv, _cattrs_omit_if_default=True)
        )

    conv.register_structure_hook(
        Call,
        make_dict_structure_fn(
            Call,
            conv,
            type=override(rename="_type"),
            users=override(struct_hook=_structure_users),
            # Built by call_from_json from the unknown keys; already a plain dict.
            extra=override(struct_hook=lambda v, _: v),
        ),
    )
    call_unstructure = make_dict_unstructure_fn(
        Call,
        conv,
        type=override(rename="_type"),
        users=override(unstruct_hook=list),
        extra=override(omit=True),
    )
    conv.register_unstructure_hook(Call, lambda call: {**call.extra, **call_unstructure(call)})
    return conv


_CONVERTER = _make_converter()
converter = _CONVERTER
"""The one converter; the generated models' rules are registered on it too (``model.py``)."""

_CALL_KEYS: frozenset[str] = frozenset(
    "_type" if a.name == "type" else a.name for a in attrs.fields(Call) if a.name != "extra"
)

_update_unstructure: Callable[[CallUpdate], dict[str, Any]] = _CONVERTER.get_unstructure_hook(
    CallUpdate
)
_create_unstructure: Callable[[CallCreate], dict[str, Any]] = _CONVERTER.get_unstructure_hook(
    CallCreate
)
_call_structure: Callable[[Any, type[Call]], Call] = _CONVERTER.get_structure_hook(Call)


def update_to_json(update: CallUpdate) -> dict[str, Any]:
    """The JSON body of a PUT: exactly the fields the caller gave (``None`` as ``null``)."""
    return _update_unstructure(update)


def create_to_json(create: CallCreate) -> dict[str, Any]:
    """The JSON body of a POST: exactly the fields the caller gave (``None`` as ``null``)."""
    return _create_unstructure(create)


def call_to_json(call: Call) -> dict[str, Any]:
    """A Call as Close would send it (``extra`` keys merged back in); for tests and fakes."""
    return _CONVERTER.unstructure(call)  # type: ignore[no-any-return]


def _describe(exc: BaseException) -> str:
    def fmt(error: BaseException, _type: Any) -> str:
        if isinstance(error, KeyError):
            return "required field missing"
        return str(error) or type(error).__name__

    try:
        return "; ".join(cattrs.transform_error(exc, format_exception=fmt))
    except Exception:  # a description must never hide the real failure
        return str(exc)


def call_from_json(payload: Any) -> Call:
    """Read one Call object from decoded JSON.

    Unknown keys go to ``Call.extra``; missing optional keys become ``None``. Raises
    :class:`~close_async.DecodingError` when ``payload`` is not a Call (not an object,
    no ``id``, a malformed datetime, a wrongly typed field).
    """
    read = _read_call(payload)
    if isinstance(read, Call):
        return read
    # Raised here, unchained and with the answer dropped: a traceback keeps its frames'
    # locals (and cattrs' errors theirs), so the error would pin the decoded answer (up to
    # max_response_size, and more once decoded) for as long as the caller keeps it.
    del payload
    raise DecodingError(read)


def _read_call(payload: Any) -> Call | str:
    """The Call in ``payload``, or what is wrong with it."""
    if not isinstance(payload, dict):
        return f"expected a Call object, got {_json_kind(payload)}"
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in payload.items():
        (known if key in _CALL_KEYS else extra)[key] = value
    known["extra"] = extra
    try:
        return _call_structure(known, Call)
    except Exception as exc:  # cattrs raises a ClassValidationError group; say it plainly
        call_id = payload.get("id")
        which = f" {safe_repr(call_id)}" if isinstance(call_id, str) else ""
        return f"could not read Call{which}: {_describe(exc)}"


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}"


# --------------------------------------------------------------------------- CLI rows

_ROW_FIELDS: frozenset[str] = frozenset(a.name for a in attrs.fields(CallUpdate))
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

    Unknown keys and bad values raise :class:`~close_async.InvalidRequestError` naming the
    field, with ``line N:`` in front when ``line`` is given.
    """
    where = f"line {line}: " if line is not None else ""

    def fail(message: str, field: str) -> InvalidRequestError:
        return InvalidRequestError(f"{where}{message}", field=field)

    if not isinstance(row, Mapping):
        raise fail(f"expected an object with an 'id', got {_json_kind(row)}", "id")
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
    except InvalidRequestError as exc:
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
    except InvalidRequestError as exc:
        raise fail(str(exc), exc.field or "row") from exc


def _row_custom_fields(
    value: Any, kind: str, fail: Callable[[str, str], InvalidRequestError]
) -> dict[str, Any] | None:
    if kind == "csv" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise fail("custom_fields must be a JSON object", "custom_fields") from None
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise fail(f"custom_fields must be an object, got {_json_kind(value)}", "custom_fields")
    return dict(value)


def _row_value(
    key: str, value: Any, kind: str, fail: Callable[[str, str], InvalidRequestError]
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
    key: str, value: str, fail: Callable[[str, str], InvalidRequestError]
) -> _dt.datetime:
    try:
        parsed = parse_datetime(value, default_utc=False)
    except ValueError as exc:
        raise fail(f"{key}: {exc}", key) from None
    if parsed.tzinfo is None:
        raise fail(f"{key}: needs a time zone (such as Z or +00:00), got {safe_repr(value)}", key)
    return parsed
