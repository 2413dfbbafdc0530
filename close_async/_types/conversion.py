"""The one cattrs converter: every model to and from Close's JSON.

Each rule below is one hook, or one hook factory, on ``converter``; the per-class hooks are
cattrs' own generated functions (``make_dict_structure_fn`` / ``make_dict_unstructure_fn``)
with overrides, built once per class on first use.

- **Datetimes** are ISO 8601 both ways. Sent as ``datetime.isoformat()``. Read with a
  ``Z``, ``+00:00`` or any other offset, with 0 to 9 fraction digits; an answer's datetime
  without a zone is taken as UTC (Close stores UTC). The result is always aware.
  **Dates** are ISO 8601 dates both ways.
- **Decimals** (a call's ``cost``, in US cents) are read from a string or a number (a float
  goes through ``str``, so no binary noise appears) and must be finite; sent as strings.
- **Scalars** are read strictly: a string only from a string, an integer from an integer
  (or a whole float: JSON has one number type) but not from a bool, a float from a number,
  a bool only from ``true``/``false``. A list is read only from an array and a mapping only
  from an object (a string is not a list of characters).
- **Unions** have no discriminator in Close's document, and their branches overlap, so the
  first branch that fits wins: a model fits an object that has the model's required keys
  and whose enumerated fields hold allowed values; another type fits a value its hook
  reads. ``None`` reads as ``None`` where the union allows it.
- **Renames**: a field's JSON key is its ``metadata["json"]`` when it has one (the
  generator writes it for keys that are not Python names; ``Call.type`` is ``_type``).
- **Reading hooks**: a field whose ``metadata["read"]`` holds a hook (the overlay's
  ``read:``, from ``rules.py``) is read by it (``Call.users``: ``null`` is no users).
- **Unknown keys** of an answer are kept in the model's ``extra`` under their JSON names,
  and sent back from it (the fields are written over them).
- **UNSET**: written, a field at its default is left out: :data:`UNSET` for request bodies
  (so ``None`` is sent as ``null`` and clears the field), ``None`` for an answer's model
  sent back. A field declared as a JSON scalar is sent as it is; any other value by its
  runtime type (datetime and date as ISO 8601, Decimal as a string, an enum as its value, a
  model by its own hook, any mapping as a dict, a list or tuple as a list).
- **Lenient reading** (one hook factory, for every class that sets ``_lenient``, such as
  :class:`~close_async.Model` and so every answer's generated model): Close adds
  fields and its document is not always right, so a missing field is ``None``, an unknown
  key goes to ``extra``, and a value of an unexpected shape is kept as it came.
- **Strict reading** (every other attrs class, and a model the overlay marks ``strict``,
  such as :class:`~close_async.models.Call`): a value that
  breaks a rule fails, and :func:`read` raises
  :class:`~close_async.APIResponseValidationError` listing what was wrong where
  (``expected an integer, got '153' @ $.duration``).
"""

from __future__ import annotations

import datetime as _dt
import re
import types
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._engine.errors import APIResponseValidationError
from .._engine.ids import safe_repr
from .unset import Unset

__all__ = [
    "converter",
    "fields_of",
    "json_key",
    "json_kind",
    "parse_datetime",
    "read",
    "union_args",
    "write",
]

T = TypeVar("T")
_Hook = Callable[[Any, Any], Any]

# ------------------------------------------------------------------------------ datetimes

# ISO 8601 as Close writes it, and the common variants (space separator, comma fraction,
# offset without a colon). Not fromisoformat alone: it also takes date-only, week and basic
# forms, which in a date-time field would more likely be a bug than a value. What the
# pattern admits, fromisoformat reads (in C: three datetimes are in every Call answer),
# once a lowercase zone letter is made uppercase.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
    r"(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
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
    try:
        parsed = _dt.datetime.fromisoformat(m[0].replace("z", "Z"))
    except ValueError as exc:  # a day, hour or offset out of range
        raise ValueError(f"not a valid date-time: {safe_repr(text)} ({exc})") from None
    if parsed.tzinfo is None and default_utc:
        return parsed.replace(tzinfo=_dt.UTC)
    return parsed


# ------------------------------------------------------------------------- scalar hooks


def _read_datetime(value: Any, _: Any) -> _dt.datetime:
    return parse_datetime(value)


def _read_date(value: Any, _: Any) -> _dt.date:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date string, got {safe_repr(value)}")
    return _dt.date.fromisoformat(value)


def _read_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {safe_repr(value)}")


def _read_int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    # JSON has one number type; 30.0 for a duration is still 30 seconds.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {safe_repr(value)}")


def _read_float(value: Any, _: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected a number, got {safe_repr(value)}")


def _read_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {safe_repr(value)}")


def _read_decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a decimal string or number, got {safe_repr(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal string or number, got {safe_repr(value)}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite decimal, got {safe_repr(value)}")
    return number


# ----------------------------------------------------------------------- type questions


def union_args(tp: Any) -> tuple[Any, ...] | None:
    """The branches of a union type (``None`` for any other type)."""
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def _is_union(tp: Any) -> bool:
    return union_args(tp) is not None


def _is_list(tp: Any) -> bool:
    return get_origin(tp) in (list, Sequence)


def _is_mapping(tp: Any) -> bool:
    return get_origin(tp) in (dict, Mapping)


_SCALARS = (str, int, float, bool, type(None), Unset)


def _is_scalar(tp: Any) -> bool:
    """A JSON scalar type (or a union of them): its values go out as they are."""
    args = union_args(tp)
    if args is not None:
        return all(_is_scalar(a) for a in args)
    return tp in _SCALARS or get_origin(tp) is Literal


# What reading gives back unchanged whenever it reads it. Not int: 30.0 is read as 30.
_READ_UNCHANGED = (str, float, bool, type(None), Unset)


def _as_it_comes(tp: Any) -> bool:
    """Reading a value as ``tp`` leniently gives the value itself, whatever it is.

    Such a value is read unchanged when it fits and kept as it came when it does not, and
    so are containers of them: such fields are not read at all (a matter of speed only).
    """
    if tp is Any or tp in _READ_UNCHANGED or get_origin(tp) is Literal:
        return True
    args = union_args(tp)
    if args is not None:
        return all(_as_it_comes(a) for a in args)
    if _is_list(tp) or _is_mapping(tp):
        return all(_as_it_comes(a) for a in get_args(tp))
    return False


def _is_lenient(tp: Any) -> bool:
    return isinstance(tp, type) and getattr(tp, "_lenient", False) is True


def json_key(attribute: attrs.Attribute[Any]) -> str:
    """The field's key in JSON (see "Renames" in the module docstring)."""
    key: str = attribute.metadata.get("json", attribute.name)
    return key


def fields_of(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    """``cls``'s attrs fields, their types resolved (once) from the annotations."""
    attrs.resolve_types(cls)
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    return fields


def _literal_values(tp: Any) -> frozenset[Any]:
    args = union_args(tp)
    if args is not None:
        return frozenset().union(*(_literal_values(a) for a in args))
    if get_origin(tp) is Literal:
        return frozenset(get_args(tp))
    return frozenset()


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in words (``an array``), for error messages."""
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


# ------------------------------------------------------------------ container and unions


def _list_hook(tp: Any, conv: cattrs.Converter) -> _Hook:
    (item_type,) = get_args(tp)
    item = conv.get_structure_hook(item_type)

    def read_list(value: Any, _: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected an array, got {json_kind(value)}")
        return [item(v, item_type) for v in value]

    return read_list


def _mapping_hook(tp: Any, conv: cattrs.Converter) -> _Hook:
    _, value_type = get_args(tp)
    entry = conv.get_structure_hook(value_type)

    def read_mapping(value: Any, _: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"expected an object, got {json_kind(value)}")
        return {k: entry(v, value_type) for k, v in value.items()}

    return read_mapping


def _fit_test(tp: Any, conv: cattrs.Converter) -> Callable[[Any], bool]:
    """Whether a value fits ``tp``, as a union branch (see the module docstring)."""
    if _is_lenient(tp):
        required: frozenset[str] = tp._required
        literals = [
            (json_key(a), allowed) for a in fields_of(tp) if (allowed := _literal_values(a.type))
        ]

        def fits_model(value: Any) -> bool:
            return (
                isinstance(value, dict)
                and required <= value.keys()
                and all(value[k] in allowed for k, allowed in literals if k in value)
            )

        return fits_model
    hook = conv.get_structure_hook(tp)

    def reads(value: Any) -> bool:
        try:
            hook(value, tp)
        except Exception:
            return False
        return True

    return reads


def _union_hook(tp: Any, conv: cattrs.Converter) -> _Hook:
    args = get_args(tp)
    nullable = type(None) in args
    if nullable and len(args) == 2:
        # T | None: one branch, read by T's hook (looked up once here, not per value).
        (only,) = [a for a in args if a is not type(None)]
        hook = conv.get_structure_hook(only)
        return lambda value, _: None if value is None else hook(value, only)
    branches = [
        (_fit_test(b, conv), conv.get_structure_hook(b), b) for b in args if b is not type(None)
    ]

    def read_union(value: Any, _: Any) -> Any:
        if value is None and nullable:
            return None
        for fits, hook, branch in branches:
            if fits(value):
                return hook(value, branch)
        raise ValueError(f"no branch of the union fits {safe_repr(value)}")

    return read_union


# ------------------------------------------------------------------------ model classes


def _as_is(value: Any, _: Any) -> Any:
    return value


def _lenient(tp: Any, conv: cattrs.Converter) -> _Hook:
    """A field hook that keeps a value it cannot read as it came."""
    if _as_it_comes(tp):
        return _as_is
    # None kept as it came is None: ``T | None`` is read as ``T``, one hook call fewer.
    args = union_args(tp)
    if args is not None and type(None) in args:
        tp = Union[tuple(a for a in args if a is not type(None))]  # noqa: UP007
    hook = conv.get_structure_hook(tp)

    def read_or_keep(value: Any, _: Any) -> Any:
        try:
            return hook(value, tp)
        except Exception:
            return value

    return read_or_keep


def _structure_model(cls: type[T], conv: cattrs.Converter) -> Callable[[Any, Any], T]:
    """The reading hook of a model class: cattrs' generated function, and ``extra``.

    Lenient for a class that sets ``_lenient``, strict (with cattrs' detailed errors) else.
    """
    lenient = _is_lenient(cls)
    overrides: dict[str, Any] = {}
    known: set[str] = set()
    keeps_extra = False
    for attribute in fields_of(cls):
        if attribute.name == "extra":
            keeps_extra = True
            overrides["extra"] = override(omit=True)
            continue
        key = json_key(attribute)
        known.add(key)
        hook = attribute.metadata.get("read")
        if hook is None and lenient:
            hook = _lenient(attribute.type, conv)
        overrides[attribute.name] = override(rename=key, struct_hook=hook)
    read_fields = make_dict_structure_fn(
        cls, conv, _cattrs_detailed_validation=not lenient, **overrides
    )
    known_keys = frozenset(known)

    def structure(value: Any, _: Any) -> T:
        if not isinstance(value, dict):
            if lenient:
                return value  # type: ignore[no-any-return]  # kept as it came
            raise ValueError(f"expected a {cls.__name__} object, got {json_kind(value)}")
        # The type argument too: cattrs 24.1's generated function has no default for it.
        model = read_fields(value, cls)
        if keeps_extra and not known_keys.issuperset(value):
            extra = {k: v for k, v in value.items() if k not in known_keys}
            # The model was built a line above and nobody holds it yet; a frozen one
            # (Call) is set the way attrs sets its own fields.
            object.__setattr__(model, "extra", extra)
        return model

    return structure


def _unstructure_model(cls: type, conv: cattrs.Converter) -> Callable[[Any], dict[str, Any]]:
    """The writing hook of a model class: cattrs' generated function, and ``extra``."""
    overrides: dict[str, Any] = {}
    keeps_extra = False
    for attribute in fields_of(cls):
        if attribute.name == "extra":
            keeps_extra = True
            overrides["extra"] = override(omit=True)
            continue
        hook = identity if _is_scalar(attribute.type) else _value_writer(conv)
        overrides[attribute.name] = override(rename=json_key(attribute), unstruct_hook=hook)
    write_fields: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        cls, conv, _cattrs_omit_if_default=True, **overrides
    )
    if not keeps_extra:
        return write_fields
    write_extra = _write_mapping(conv)

    def unstructure(model: Any) -> dict[str, Any]:
        if not model.extra:
            return write_fields(model)
        return {**write_extra(model.extra), **write_fields(model)}

    return unstructure


_JSON_NATIVE = frozenset({str, int, float, bool, type(None)})


def _value_writer(conv: cattrs.Converter) -> Callable[[Any], Any]:
    """Write a value by its runtime type; JSON's own scalars skip the converter's dispatch."""
    dispatch = conv.unstructure

    def write_value(value: Any) -> Any:
        return value if value.__class__ in _JSON_NATIVE else dispatch(value)

    return write_value


def _write_mapping(conv: cattrs.Converter) -> Callable[[Mapping[Any, Any]], dict[Any, Any]]:
    write = _value_writer(conv)
    return lambda mapping: {k: write(v) for k, v in mapping.items()}


def _write_sequence(conv: cattrs.Converter) -> Callable[[Sequence[Any]], list[Any]]:
    write = _value_writer(conv)
    return lambda items: [write(v) for v in items]


def _is_class_of(*bases: type) -> Callable[[Any], bool]:
    return lambda tp: isinstance(tp, type) and issubclass(tp, bases)


# ---------------------------------------------------------------------------- converter


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    for tp, read in (
        (_dt.datetime, _read_datetime),
        (_dt.date, _read_date),
        (str, _read_str),
        (int, _read_int),
        (float, _read_float),
        (bool, _read_bool),
        (Decimal, _read_decimal),
    ):
        conv.register_structure_hook(tp, read)
    conv.register_structure_hook_factory(_is_list, _list_hook)
    conv.register_structure_hook_factory(_is_mapping, _mapping_hook)
    conv.register_structure_hook_factory(_is_union, _union_hook)
    conv.register_structure_hook_factory(attrs.has, _structure_model)

    conv.register_unstructure_hook(_dt.datetime, _dt.datetime.isoformat)
    conv.register_unstructure_hook(_dt.date, _dt.date.isoformat)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook_factory(_is_class_of(Mapping), lambda _, c: _write_mapping(c))
    conv.register_unstructure_hook_factory(
        _is_class_of(list, tuple), lambda _, c: _write_sequence(c)
    )
    conv.register_unstructure_hook_factory(attrs.has, _unstructure_model)
    return conv


converter = _make_converter()
"""The one converter (see the module docstring for its rules)."""


def _describe(exc: BaseException) -> str:
    def fmt(error: BaseException, _type: Any) -> str:
        if isinstance(error, KeyError):
            return "required field missing"
        return str(error) or type(error).__name__

    try:
        return "; ".join(cattrs.transform_error(exc, format_exception=fmt))
    except Exception:  # a description must never hide the real failure
        return str(exc)


# Each class's hook, looked up in the converter once: a dispatch costs as much as the
# writing of a small body.
_READERS: dict[type, _Hook] = {}
_WRITERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _reader(cls: type) -> _Hook:
    hook = _READERS.get(cls)
    if hook is None:
        hook = _READERS[cls] = converter.get_structure_hook(cls)
    return hook


def read(payload: Any, cls: type[T]) -> T:
    """Read ``cls`` from decoded JSON, by the converter's rules.

    Raises :class:`~close_async.APIResponseValidationError` when ``payload`` is not a JSON
    object, and, for a strictly read class, when a value breaks a rule; the message says what
    was wrong where, and names the object's ``id`` when it has a readable one.
    """
    if not isinstance(payload, dict):
        message = f"expected a {cls.__name__} object, got {json_kind(payload)}"
    else:
        try:
            model: T = _reader(cls)(payload, cls)
        except Exception as exc:  # cattrs raises a ClassValidationError group; say it plainly
            object_id = payload.get("id")
            which = f" {safe_repr(object_id)}" if isinstance(object_id, str) else ""
            message = f"could not read {cls.__name__}{which}: {_describe(exc)}"
        else:
            return model
    # Raised here, unchained and with the answer dropped: a traceback keeps its frames'
    # locals (and cattrs' errors theirs), so the error would pin the decoded answer (up to
    # max_response_size, and more once decoded) for as long as the caller keeps it.
    del payload
    raise APIResponseValidationError(message)


def write(model: Any) -> dict[str, Any]:
    """``model`` as a JSON object, by the converter's rules."""
    cls = type(model)
    write_model = _WRITERS.get(cls)
    if write_model is None:
        write_model = _WRITERS[cls] = converter.get_unstructure_hook(cls)
    body: dict[str, Any] = write_model(model)
    return body
