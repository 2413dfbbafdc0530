"""The bases of the generated models, and how they are read from and written to JSON.

Two kinds of model, as for calls (``Call`` and ``CallUpdate``):

- :class:`Model`, what Close answers. Reading one is lenient, because Close adds fields and
  its document is not always right: a missing field is ``None``, an unknown key is kept in
  ``extra`` (custom fields arrive as ``custom.cf_...`` keys), and a value of an unexpected
  shape is kept as it came rather than refused. A model read, changed and sent back keeps
  the keys it did not know: they go out again from ``extra``.
- :class:`RequestModel`, what is sent (create and update bodies). Every field defaults to
  :data:`UNSET` and is left out of the body; ``None`` is sent as ``null`` and clears the
  field at Close. Values are checked against the field's type when the model is built, so a
  bad value raises :class:`~close_async.InvalidRequestError` naming the field before
  anything is sent. Keys the model does not list (``custom.cf_...``) go in ``extra``.

The reading and writing rules are registered on the package's one cattrs converter
(``converter.structure(payload, Lead)``, ``converter.unstructure(lead)``), beside the call
models' rules; each model's reader is built once, on first use, from its type hints.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import attrs

from .._engine.errors import DecodingError, InvalidRequestError
from .._engine.ids import safe_repr
from .calls import UNSET, Unset
from .conversion import converter, parse_datetime

__all__ = [
    "UNSET",
    "Model",
    "RequestModel",
    "Unset",
    "field_checks",
    "model_from_json",
    "request_fields",
    "to_json",
]

M = TypeVar("M", bound="Model")

_Reader = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@attrs.define(kw_only=True)
class Model:
    """A Close object as Close answers it (the base of every generated response model).

    Build one from decoded JSON with :meth:`from_json`. Every field may be ``None``
    (absent or null in the answer). ``extra`` holds the keys this SDK does not model, under
    their JSON names: ``lead.extra["custom.cf_abc"]``.
    """

    extra: dict[str, Any] = attrs.field(factory=dict)
    """Keys of the answer that the model has no field for (custom fields among them)."""

    _required: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_json(cls: type[M], payload: Any) -> M:
        """Read this model from decoded JSON; lenient (see the module docstring).

        Raises :class:`~close_async.DecodingError` only when ``payload`` is not a JSON
        object at all.
        """
        return model_from_json(cls, payload)

    def to_json(self) -> dict[str, Any]:
        """This object as JSON: the fields that are not ``None``, and ``extra``'s keys."""
        return to_json(self)


@attrs.frozen(kw_only=True)
class RequestModel:
    """A request body (the base of every generated create and update model).

    Only the fields given are sent; ``None`` is sent as ``null`` (it clears the field).
    ``extra`` adds keys the model does not list, such as custom fields
    (``extra={"custom.cf_abc": "Gold"}``).
    """

    extra: Mapping[str, Any] = attrs.field(factory=dict)
    """Keys sent as they are, beside the model's fields (custom fields among them)."""

    def __attrs_post_init__(self) -> None:
        _check_request_model(self)

    def fields_set(self) -> frozenset[str]:
        """Names of the fields that were given (``None`` counts: it clears the field)."""
        return frozenset(
            a.name
            for a in attrs.fields(type(self))
            if a.name != "extra" and getattr(self, a.name) is not UNSET
        )

    def to_json(self) -> dict[str, Any]:
        """The request body: ``extra``'s keys and every field given, under its JSON name."""
        return to_json(self)


# ----------------------------------------------------------------------------- reading


def model_from_json(cls: type[M], payload: Any) -> M:
    """Read ``cls`` from decoded JSON (``cls.from_json``); see the module docstring."""
    if not isinstance(payload, dict):
        kind = "an array" if isinstance(payload, list) else safe_repr(payload)
        del payload
        raise DecodingError(f"expected a {cls.__name__} object, got {kind}")
    read: Callable[[Any], M] = _plan(cls).read
    return read(payload)


@attrs.frozen
class _Plan:
    """How one model class is read and written, worked out once from its type hints."""

    read: Callable[[Any], Any]
    """Decoded JSON object -> model (never raises)."""
    fields: tuple[tuple[str, str], ...]
    """(attribute name, JSON key) of every field but ``extra``."""
    literals: tuple[tuple[str, frozenset[Any]], ...]
    """(JSON key, allowed values) of the enumerated fields: what tells union branches apart."""
    checks: tuple[tuple[str, Callable[[Any], str | None]], ...]
    """(attribute name, check) for request models: None when the value fits, else what fits."""


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _make_plan(cls)
    return plan


def _hints(cls: type) -> dict[str, Any]:
    # Each class's own annotations, resolved in its own module and never in the class body:
    # a field may be named like a type (``date``, ``type``) without shadowing it.
    hints: dict[str, Any] = {}
    names = {a.name for a in attrs.fields(cls)}
    for klass in reversed(cls.__mro__):
        own = {k: v for k, v in vars(klass).get("__annotations__", {}).items() if k in names}
        if not own:
            continue
        namespace = vars(sys.modules[klass.__module__])

        def holder() -> None: ...

        holder.__annotations__ = dict(own)
        hints.update(typing.get_type_hints(holder, namespace, namespace))
    return hints


def request_fields(cls: type[RequestModel]) -> dict[str, Any]:
    """JSON key -> type hint of each field of the request model ``cls`` (``extra`` aside),
    as the model's own checks see them (``str | Unset | None``)."""
    hints = _hints(cls)
    return {
        attribute.metadata.get("json", attribute.name): hints[attribute.name]
        for attribute in attrs.fields(cls)
        if attribute.name != "extra"
    }


def field_checks(cls: type) -> dict[str, Callable[[Any], None]]:
    """JSON key -> the rule of that field of the attrs model ``cls``, as a check of one value
    that raises :class:`InvalidRequestError` in the model's own words (``duration: must be
    a whole number of seconds from 0 to 604800, got -1``): the field's attrs validator.

    For callers that hold a field's value before the model is built (the CLI's cells), so
    they judge it by the model's rule instead of stating it a second time. Fields without
    a validator have no entry.
    """
    checks: dict[str, Callable[[Any], None]] = {}
    for attribute in attrs.fields(cls):
        validator = attribute.validator
        if validator is None or attribute.name == "extra":
            continue
        key = attribute.metadata.get("json", attribute.name)
        checks[key] = functools.partial(_validate, validator, attribute)
    return checks


def _validate(validator: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # The call models' validators read only the attribute and the value, not the instance.
    validator(None, attribute, value)


def _make_plan(cls: type) -> _Plan:
    hints = _hints(cls)
    readers: dict[str, tuple[str, _Reader]] = {}
    fields: list[tuple[str, str]] = []
    literals: list[tuple[str, frozenset[Any]]] = []
    checks: list[tuple[str, Callable[[Any], str | None]]] = []
    for attribute in attrs.fields(cls):
        if attribute.name == "extra":
            continue
        key = attribute.metadata.get("json", attribute.name)
        hint = hints[attribute.name]
        fields.append((attribute.name, key))
        readers[key] = (attribute.name, _reader(hint))
        allowed = _literal_values(hint)
        if allowed:
            literals.append((key, allowed))
        checks.append((attribute.name, _check(hint)))

    def read(payload: dict[str, Any]) -> Any:
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in payload.items():
            field = readers.get(key)
            if field is None:
                extra[key] = value
            else:
                name, reader = field
                known[name] = reader(value)
        return cls(extra=extra, **known)

    return _Plan(read, tuple(fields), tuple(literals), tuple(checks))


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Model)


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def _literal_values(tp: Any) -> frozenset[Any]:
    args = _union_args(tp)
    if args is not None:
        return frozenset().union(*(_literal_values(a) for a in args))
    if get_origin(tp) is Literal:
        return frozenset(get_args(tp))
    return frozenset()


def _lenient(read: Callable[[Any], Any]) -> _Reader:
    # A value that cannot be read as its field's type is kept as it came: Close's answers
    # are not always what its document says, and an SDK must not fail on them.
    def reader(value: Any) -> Any:
        try:
            return read(value)
        except (ValueError, TypeError):
            return value

    return reader


def _read_date(value: Any) -> _dt.date:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return _dt.date.fromisoformat(value)


def _reader(tp: Any) -> _Reader:
    """A function reading one JSON value as ``tp``; it never raises."""
    if tp is Any or tp in (str, int, float, bool, type(None)) or get_origin(tp) is Literal:
        return _identity
    if tp is _dt.datetime:
        return _lenient(parse_datetime)
    if tp is _dt.date:
        return _lenient(_read_date)
    if tp is Decimal:
        return _lenient(lambda v: converter.structure(v, Decimal))
    if _is_model(tp):
        plan_of = tp

        def read_model(value: Any) -> Any:
            return _plan(plan_of).read(value) if isinstance(value, dict) else value

        return read_model
    args = _union_args(tp)
    if args is not None:
        return _union_reader([a for a in args if a is not type(None)])
    origin = get_origin(tp)
    if origin in (list, Sequence):
        (item_type,) = get_args(tp)
        item = _reader(item_type)
        if item is _identity:
            return _identity

        def read_list(value: Any) -> Any:
            return [item(v) for v in value] if isinstance(value, list) else value

        return read_list
    if origin in (dict, Mapping):
        _, value_type = get_args(tp)
        entry = _reader(value_type)
        if entry is _identity:
            return _identity

        def read_dict(value: Any) -> Any:
            return {k: entry(v) for k, v in value.items()} if isinstance(value, dict) else value

        return read_dict
    return _identity


def _union_reader(branches: list[Any]) -> _Reader:
    if len(branches) == 1:
        only = _reader(branches[0])
        return lambda v: None if v is None else only(v)
    # Close's unions have no discriminator and their branches overlap, so the first branch
    # that fits wins: for a model, the object has the branch's required keys and its
    # enumerated fields hold allowed values; for a plain type, the value is an instance.
    readers = [(branch, _reader(branch)) for branch in branches]

    def read_union(value: Any) -> Any:
        if value is None:
            return None
        for branch, read in readers:
            if _fits(branch, value):
                return read(value)
        return value

    return read_union


def _fits(tp: Any, value: Any) -> bool:
    if _is_model(tp):
        if not isinstance(value, dict):
            return False
        if not tp._required <= value.keys():
            return False
        return all(key not in value or value[key] in allowed for key, allowed in _plan(tp).literals)
    if get_origin(tp) is Literal:
        return value in get_args(tp)
    if tp is _dt.datetime:
        return _converts(parse_datetime, value)
    if tp is _dt.date:
        return _converts(_read_date, value)
    origin = get_origin(tp) or tp
    if origin in (list, Sequence):
        return isinstance(value, list)
    if origin in (dict, Mapping):
        return isinstance(value, dict)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def _converts(read: Callable[[Any], Any], value: Any) -> bool:
    try:
        read(value)
    except (ValueError, TypeError):
        return False
    return True


# ----------------------------------------------------------------------------- writing


def to_json(model: Model | RequestModel) -> dict[str, Any]:
    """``model`` as a JSON object: its ``extra`` keys, then its fields under their JSON names.

    Response models leave out fields that are ``None``; request models leave out those
    that are :data:`UNSET` and send ``None`` as ``null``.
    """
    skip: Any = UNSET if isinstance(model, RequestModel) else None
    body = {key: _json_value(value) for key, value in model.extra.items()}
    for name, key in _plan(type(model)).fields:
        value = getattr(model, name)
        if value is not skip:
            body[key] = _json_value(value)
    return body


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (Model, RequestModel)):
        return to_json(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


# ---------------------------------------------------------------------------- checking

_Check = Callable[[Any], str | None]

_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    _dt.datetime: "a datetime or an ISO 8601 string",
    _dt.date: "a date or an ISO 8601 date string",
    Decimal: "a decimal",
}


def _accepts(tp: Any, value: Any) -> bool:
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if get_origin(tp) is Literal:
        return value in get_args(tp)
    args = _union_args(tp)
    if args is not None:
        return any(_accepts(a, value) for a in args)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if tp is _dt.datetime:
        return isinstance(value, (_dt.datetime, str))
    if tp is _dt.date:
        return isinstance(value, (_dt.date, str))
    if _is_model(tp) or (isinstance(tp, type) and issubclass(tp, RequestModel)):
        return isinstance(value, (tp, Mapping))
    origin = get_origin(tp)
    if origin in (list, Sequence):
        (item,) = get_args(tp)
        is_list = isinstance(value, (list, tuple))
        return is_list and all(_accepts(item, v) for v in value)
    if origin in (dict, Mapping):
        return isinstance(value, Mapping)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _describe(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(v) for v in get_args(tp))
    args = _union_args(tp)
    if args is not None:
        named = [_describe(a) for a in args if a not in (type(None), Unset)]
        return " or ".join(named) + (" (or None to clear it)" if type(None) in args else "")
    origin = get_origin(tp)
    if origin in (list, Sequence):
        return f"a list of {_describe(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}"
    if origin in (dict, Mapping):
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, (Model, RequestModel)):
        return f"a {tp.__name__} or a mapping"
    return _KIND_NAMES.get(tp, f"a {getattr(tp, '__name__', tp)}")


def _check(tp: Any) -> _Check:
    def check(value: Any) -> str | None:
        return None if value is UNSET or _accepts(tp, value) else _describe(tp)

    return check


def _check_request_model(model: RequestModel) -> None:
    cls = type(model)
    for name, check in _plan(cls).checks:
        expected = check(getattr(model, name))
        if expected is not None:
            raise InvalidRequestError(
                f"{cls.__name__}.{name}: must be {expected}, got {safe_repr(getattr(model, name))}",
                field=name,
            )
    if not isinstance(model.extra, Mapping) or not all(isinstance(k, str) for k in model.extra):
        raise InvalidRequestError(
            f"{cls.__name__}.extra: must be a mapping of JSON keys to values", field="extra"
        )


def _register() -> None:
    # The package's one converter reads and writes these models too.
    converter.register_structure_hook_factory(
        _is_model, lambda cls: lambda value, _: model_from_json(cls, value)
    )
    converter.register_unstructure_hook_factory(
        lambda cls: isinstance(cls, type) and issubclass(cls, (Model, RequestModel)),
        lambda _cls: to_json,
    )


_register()
