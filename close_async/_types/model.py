"""The bases of the generated models, and the checks a request model runs when built.

Two kinds of model (``Call`` and ``CallUpdate`` among them):

- :class:`Model`, what Close answers. A field the document (or the overlay) requires, and
  does not allow to be null, is typed without ``None`` (``Lead.id: str``); the others are
  ``X | None``. Reading one is lenient, because Close adds fields and its document is not
  always right: a missing field is ``None`` (a required one too: then
  :meth:`Model.missing_fields` names it, and nothing is raised), an unknown key is kept in
  ``extra`` (custom fields arrive as ``custom.cf_...`` keys), and a value of an unexpected
  shape is kept as it came rather than refused. A model read, changed and sent back keeps
  the keys it did not know: they go out again from ``extra``.
- :class:`RequestModel`, what is sent (create and update bodies). Every field defaults to
  :data:`UNSET` and is left out of the body; ``None`` is sent as ``null`` and clears the
  field at Close. Values are checked against the field's type when the model is built, so a
  bad value raises :class:`~close_async.ClientValidationError` naming the field before
  anything is sent. Keys the model does not list (``custom.cf_...``) go in ``extra``.
  A field the overlay gives a rule (``rules.py``: an E.164 phone, a call's duration) is
  checked by that rule, its attrs validator, instead of by its type.

A model the overlay marks ``strict`` (``Call``) is read strictly instead: a value that
breaks its type fails with an :class:`~close_async.APIResponseValidationError` naming it.

Both are read and written by the package's one cattrs converter (``conversion``, whose
docstring lists the rules); :meth:`Model.from_json` and ``to_json`` are its front doors.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

import attrs

from .._engine.errors import APIResponseValidationError, ClientValidationError
from .._engine.ids import safe_repr
from . import conversion as _conversion
from .conversion import fields_of, json_key, union_args
from .unset import UNSET, Unset

__all__ = [
    "UNSET",
    "Model",
    "RequestModel",
    "Unset",
    "field_checks",
    "request_fields",
]

M = TypeVar("M", bound="Model")

_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})
"""A request model's ``extra`` when none is given: empty, shared (it cannot be changed)."""


@attrs.define(kw_only=True)
class Model:
    """A Close object as Close answers it (the base of every generated response model).

    Build one from decoded JSON with :meth:`from_json`. A field typed ``X | None`` is
    ``None`` when the answer leaves it out or sends null. A required field (typed without
    ``None``, such as ``lead.id: str``) holds ``None`` only if Close left it out, which
    :meth:`missing_fields` tells: reading never raises for it. ``extra`` holds the keys this
    SDK does not model, under their JSON names: ``lead.extra["custom.cf_abc"]``.
    """

    extra: dict[str, Any] = attrs.field(factory=dict)
    """Keys of the answer that the model has no field for (custom fields among them)."""

    _required: ClassVar[frozenset[str]] = frozenset()
    """JSON keys the document requires: what tells a union's branches apart."""
    _lenient: ClassVar[bool] = True
    """Read leniently by the converter (``conversion``)."""

    @classmethod
    def from_json(cls: type[M], payload: Any) -> M:
        """Read this model from decoded JSON; lenient (see the module docstring).

        Raises :class:`~close_async.APIResponseValidationError` when ``payload`` is not a JSON
        object at all, and, for a strict model, when a value breaks its type.
        """
        try:
            return _conversion.read(payload, cls)
        except APIResponseValidationError:
            # The error's traceback keeps this frame: it must not pin the answer.
            del payload
            raise

    def to_json(self) -> dict[str, Any]:
        """This object as JSON: the fields that are not ``None``, and ``extra``'s keys."""
        return _conversion.write(self)

    def missing_fields(self) -> frozenset[str]:
        """Names of the required fields that hold ``None``: the ones Close left out of
        the answer (or sent as null although the document says it never does).

        Such a field is typed without ``None`` (``lead.id: str``) because Close always
        sends it; reading stays lenient, so an answer without it is still read, and this
        is how to ask. Empty for every answer that matches the document.
        """
        names = _NEVER_NONE.get(type(self))
        if names is None:
            names = _never_none(type(self))
        return frozenset(name for name in names if getattr(self, name) is None)


@attrs.frozen(kw_only=True)
class RequestModel:
    """A request body (the base of every generated create and update model).

    Only the fields given are sent; ``None`` is sent as ``null`` (it clears the field).
    ``extra`` adds keys the model does not list, such as custom fields
    (``extra={"custom.cf_abc": "Gold"}``).
    """

    extra: Mapping[str, Any] = attrs.field(default=_NO_EXTRA)
    """Keys sent as they are, beside the model's fields (custom fields among them)."""

    def __attrs_post_init__(self) -> None:
        # Each field without a rule is checked against its type (a field with a rule: its
        # attrs validator, which attrs has run already); ``extra`` must hold JSON keys.
        cls = type(self)
        checks = _CHECKS.get(cls)
        if checks is None:
            checks = _checks_of(cls)
        for name, hint, plain in checks:
            value = getattr(self, name)
            if value.__class__ in plain or value is UNSET or _accepts(hint, value):
                continue
            raise ClientValidationError(
                f"{name}: must be {_describe(hint)}, got {safe_repr(value)}", field=name
            )
        extra = self.extra
        if extra is _NO_EXTRA:
            return
        if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
            raise ClientValidationError(
                "extra: must be a mapping of JSON keys to values", field="extra"
            )

    def fields_set(self) -> frozenset[str]:
        """Names of the fields that were given (``None`` counts: it clears the field)."""
        return frozenset(
            a.name
            for a in attrs.fields(type(self))
            if a.name != "extra" and getattr(self, a.name) is not UNSET
        )

    def to_json(self) -> dict[str, Any]:
        """The request body: ``extra``'s keys and every field given, under its JSON name."""
        return _conversion.write(self)


def request_fields(cls: type[RequestModel]) -> dict[str, Any]:
    """JSON key -> type hint of each field of the request model ``cls`` (``extra`` aside),
    as the model's own checks see them (``str | Unset | None``)."""
    return {key: hint for name, key, hint in _typed_fields(cls)}


def field_checks(cls: type) -> dict[str, Callable[[Any], None]]:
    """JSON key -> the rule of that field of the attrs model ``cls``, as a check of one value
    that raises :class:`ClientValidationError` in the model's own words (``duration: must be
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
    # The rules' validators (rules.py) read only the attribute and the value, not the instance.
    validator(None, attribute, value)


def _typed_fields(cls: type) -> list[tuple[str, str, Any]]:
    """(attribute name, JSON key, type) of each field of ``cls`` but ``extra``."""
    return [(a.name, json_key(a), a.type) for a in fields_of(cls) if a.name != "extra"]


_NEVER_NONE: dict[type, tuple[str, ...]] = {}


def _never_none(cls: type) -> tuple[str, ...]:
    """The fields of the answer model ``cls`` whose type does not admit ``None`` (the
    generator types required fields so), once per class."""
    names = _NEVER_NONE[cls] = tuple(
        a.name
        for a in fields_of(cls)
        if a.name != "extra" and a.type is not Any and not _admits_none(a.type)
    )
    return names


def _admits_none(tp: Any) -> bool:
    args = union_args(tp)
    return tp is type(None) or (args is not None and type(None) in args)


# ---------------------------------------------------------------------------- checking

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
    args = union_args(tp)
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
    if isinstance(tp, type) and issubclass(tp, (Model, RequestModel)):
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
    args = union_args(tp)
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


_CHECKS: dict[type, tuple[tuple[str, Any, frozenset[type]], ...]] = {}

# A value of exactly one of these classes is accepted by a hint that names the class: what
# lets the common values (a str for ``str | Unset | None``) skip the walk of the hint.
_PLAIN: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    float: frozenset({int, float}),
    bool: frozenset({bool}),
    type(None): frozenset({type(None)}),
    Unset: frozenset({Unset}),
}


def _plain_classes(hint: Any) -> frozenset[type]:
    args = union_args(hint)
    if args is None:
        return _PLAIN.get(hint, frozenset())
    return frozenset().union(*(_plain_classes(a) for a in args))


def _checks_of(cls: type) -> tuple[tuple[str, Any, frozenset[type]], ...]:
    """(name, type, plain classes) of each field the type check judges, once per class: a
    field with a rule is checked by that rule alone."""
    ruled = {a.name for a in attrs.fields(cls) if a.validator is not None}
    checks = _CHECKS[cls] = tuple(
        (name, hint, _plain_classes(hint))
        for name, _, hint in _typed_fields(cls)
        if name not in ruled
    )
    return checks
