"""Requests as values, built once: :class:`Request` and :func:`build_request` (pure: no I/O).

Every request the SDK sends is made here. :func:`build_request` checks each argument (the
method, the path and the values put into it, the query, the body) and refuses a bad one
with an :class:`ClientValidationError` naming it, before anything is sent. The body is
checked and encoded to JSON bytes once, by :func:`encode_body`; the transport sends those
bytes as they are.

The rate-limit group and the path template are the builder's: generated operations pass
both as literals the generator wrote, and a path given with ``path_params`` takes its group
from its template (:func:`template_group`), so every id of one endpoint shares one budget.
Only a concrete path the caller wrote by hand (``close.get(f"lead/{lead_id}/")``) has its
group worked out from the shape of its segments.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs
import yarl

from ..errors import ClientValidationError
from ..ids import safe_repr
from .paths import check_path, render_path_and_template

__all__ = [
    "IDEMPOTENT_METHODS",
    "METHOD_OVERRIDE_HEADER",
    "URL_LENGTH_LIMIT",
    "JSONBody",
    "Request",
    "build_request",
    "encode_body",
    "encode_params",
    "path_template_of",
    "query_value",
    "template_group",
    "with_method_override",
    "with_query",
]

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
"""Methods whose request, sent twice, has the effect of sending it once (not POST)."""

METHOD_OVERRIDE_HEADER = "X-HTTP-Method-Override"
URL_LENGTH_LIMIT = 2000
"""Longest URL sent as a GET; a longer one goes as a POST with ``X-HTTP-Method-Override``
(Close's advice for long filters such as ``id__in``; proxies refuse URLs past about 2,000)."""

# POSTs that only read: Advanced Filtering and the reports. Sending one twice changes
# nothing at Close, so they are retried like a GET.
_READ_POST_PREFIXES = ("data/search/", "report/")

_METHOD = re.compile(r"[A-Za-z]+", re.ASCII)
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")

# --- groups -----------------------------------------------------------------------------


def template_group(method: str, template: str) -> str:
    """The rate-limit group of an endpoint: its method and its template's segments, the
    placeholders left out (``"GET", "scheduling_link/{id}/"`` gives
    ``"GET scheduling_link"``). Close limits per endpoint group, and every object of one
    endpoint shares it. The generator writes this for each operation as a literal."""
    segments = [s for s in template.split("/") if s and not _PLACEHOLDER.fullmatch(s)]
    return f"{method.upper()} {'/'.join(segments)}"


# Close object ids are a short type prefix and a base62 body ("acti_3fK...", "lead_...").
# Resource names can look alike ("custom_field", "sms_template"), so a segment counts as an
# id only when its prefix is a known id prefix or its body has a digit or capital letter,
# which real base62 ids of 20+ characters always have and resource names never do. Only
# for a concrete path written by hand: every path the SDK builds brings its template.
_ID_SHAPE = re.compile(r"([a-z]+)_([A-Za-z0-9]+)", re.ASCII)
_ID_PREFIXES = frozenset(
    {"acti", "cf", "cont", "lead", "oppo", "orga", "seq", "stat", "task", "tmpl", "user"}
)
_ID_BODY_MARK = re.compile(r"[0-9A-Z]")


def _is_id_segment(segment: str) -> bool:
    match = _ID_SHAPE.fullmatch(segment)
    if match is None:
        return False
    prefix, body = match.groups()
    return prefix in _ID_PREFIXES or _ID_BODY_MARK.search(body) is not None


def _guessed_template(path: str) -> str:
    return "/".join("{id}" if _is_id_segment(s) else s for s in path.split("/"))


def path_template_of(request: Request) -> str:
    """The path of ``request`` with its ids as placeholders: the builder's ``template``, or
    else the path with each id-looking segment as ``{id}`` (``"lead/{id}/"``)."""
    if request.template is not None:
        return request.template
    return _guessed_template(request.path)


# --- the request ------------------------------------------------------------------------


def _upper(method: str) -> str:
    return method.upper()


def _idempotent_default(method: str, path: str) -> bool:
    return method in IDEMPOTENT_METHODS or (
        method == "POST" and path.startswith(_READ_POST_PREFIXES)
    )


@attrs.frozen
class Request:
    """One HTTP request to Close, as a value.

    ``path`` is relative to the API base (``"activity/call/acti_x/"``); ``params`` the query
    string pairs in order; ``body`` the JSON body as the bytes sent, or ``None`` for no
    body; ``headers`` extra header pairs for this request only. ``method`` is stored
    upper-case.

    ``template`` is the path with its ids as placeholders (``"activity/call/{id}/"``), when
    the builder knows it: tracing names the operation by it, never by the concrete path.

    ``group`` is the endpoint group for rate limiting: method and resource, ids left out.
    ``PUT activity/call/{id}/`` gives ``"PUT activity/call"``: Close limits per group, and
    every call shares one. By default it is :func:`template_group` of the ``template``;
    without a template (a concrete path written by hand), the path's id-looking segments
    are left out.

    ``idempotent`` says whether sending it twice has the effect of sending it once, which
    decides what may be retried: true for GET, PUT and DELETE, and for the POSTs that only
    read (``data/search/``, ``report/...``); a builder may say so for another POST.
    """

    method: str = attrs.field(converter=_upper)
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), kw_only=True)
    template: str | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    group: str = attrs.field(kw_only=True, eq=False, repr=False)
    idempotent: bool = attrs.field(kw_only=True)

    @group.default
    def _group_default(self) -> str:
        template = self.template or _guessed_template(self.path)
        return template_group(self.method, template)

    @idempotent.default
    def _idempotent_default(self) -> bool:
        return _idempotent_default(self.method, self.path)


def with_method_override(request: Request, base_url: str) -> Request:
    """``request`` as it should be sent: a GET whose URL would pass
    :data:`URL_LENGTH_LIMIT` characters becomes a POST with ``X-HTTP-Method-Override: GET``
    and the parameters as JSON under ``_params``; anything else is returned as it is.

    The override stays a read: same endpoint group, still retried like a GET.
    """
    if request.method != "GET" or not request.params:
        return request
    url = yarl.URL(base_url + request.path, encoded=True).extend_query(request.params)
    if len(str(url)) <= URL_LENGTH_LIMIT:
        return request
    params: dict[str, str] = {}
    for key, value in request.params:
        # A key given twice is a list to Close, which it reads comma-separated.
        params[key] = f"{params[key]},{value}" if key in params else value
    return Request(
        "POST",
        request.path,
        body=encode_body({"_params": params}).data,
        headers=(*request.headers, (METHOD_OVERRIDE_HEADER, "GET")),
        group=request.group,
        idempotent=True,
        template=request.template,
    )


# --- query -------------------------------------------------------------------------------


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


_LISTS = (list, tuple, set, frozenset)


def _flat_text(key: str, value: object) -> str:
    if isinstance(value, (Mapping, bytes, bytearray, *_LISTS)):
        # str() would send "{'a': 1}" or "b'x'": never what Close reads. A query is flat.
        raise ClientValidationError(
            f"{key} must be text, a number, a date, a boolean or a list of those, "
            f"not {type(value).__name__}",
            field=key,
        )
    return _param_text(value)


def _param_value(key: str, value: object) -> str:
    if isinstance(value, _LISTS):
        items = [item for item in value if item is not None]
        if not items:
            # Sending "id__in=" would be read as no filter at all and list everything,
            # the opposite of what an empty filter means.
            raise ClientValidationError(f"{key} must not be empty", field=key)
        texts = [_flat_text(key, item) for item in items]
        if isinstance(value, (set, frozenset)):
            texts.sort()  # sets have no order; keep the URL stable
        return ",".join(texts)
    return _flat_text(key, value)


def query_value(key: str, value: object) -> str:
    """One query parameter's value as Close reads it (see :func:`encode_params`); raises
    :class:`ClientValidationError` naming ``key``."""
    return _param_value(key, value)


def with_query(request: Request, query: tuple[tuple[str, str | None], ...]) -> Request:
    """``request`` with ``query`` (encoded ``extra_query``) merged into its parameters:
    a name in ``query`` replaces the request's own of that name; ``None`` leaves it out."""
    names = {name for name, _ in query}
    params = (
        *(pair for pair in request.params if pair[0] not in names),
        *((name, value) for name, value in query if value is not None),
    )
    return attrs.evolve(request, params=params)


def encode_params(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query parameters as Close reads them, in order.

    ``None`` values are left out; lists, tuples and sets become comma-separated; dates and
    datetimes are written in ISO 8601; booleans as ``true``/``false``. An empty list is
    refused (:class:`ClientValidationError`) rather than sent as "no filter".
    """
    return tuple(
        (str(key), _param_value(str(key), value))
        for key, value in params.items()
        if value is not None
    )


# --- body --------------------------------------------------------------------------------


@attrs.frozen
class JSONBody:
    """A request body checked and encoded once: ``value`` (a shallow copy of what was given,
    or a model's JSON) and ``data``, the bytes sent.

    :func:`build_request` takes one as it is, so a body encoded ahead of its request (a
    bulk item's, whose ``value`` the run keeps for its journal and results) is not encoded
    again.
    """

    value: Any = attrs.field(repr=False)
    data: bytes = attrs.field(repr=False)


# One encoder for every body: json.dumps with any argument builds a JSONEncoder per call,
# which costs more than encoding a small body (encode() keeps no state between calls).
_ENCODE = _json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def encode_body(body: object, *, field: str = "body", objects_only: bool = True) -> JSONBody:
    """``body`` checked and encoded as JSON, once; raises :class:`ClientValidationError`
    naming ``field`` when it cannot be sent.

    A :class:`JSONBody` is returned as it is; a model (anything with ``to_json()``) gives
    its JSON; a mapping or a list is copied (a later change by the caller must not alter a
    built request). ``objects_only`` (the default: a typed operation's body is a JSON
    object): anything else is refused; otherwise any JSON value is accepted (the generic
    verbs' ``json=``).
    """
    if type(body) is JSONBody:
        return body
    value: Any
    # A dict and a model first: the common bodies, without the Mapping ABC's check.
    if body.__class__ is dict:
        value = dict(body)
    elif callable(getattr(body, "to_json", None)):
        value = body.to_json()  # type: ignore[attr-defined]
    elif isinstance(body, Mapping):
        value = dict(body)
    elif objects_only:
        raise ClientValidationError(
            f"{field} must be a model or a mapping of JSON keys to values, "
            f"not {type(body).__name__}",
            field=field,
        )
    else:
        value = list(body) if isinstance(body, list) else body
    try:
        # Refused here, before anything is sent: failing inside the send would surface as
        # a bare TypeError from the JSON encoder, without saying which argument was wrong.
        text = _ENCODE(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ClientValidationError(
            f"{field} must be JSON-serialisable (dicts, lists, str, numbers, bools, None): {exc}",
            field=field,
        ) from None
    return JSONBody(value, text.encode())


# --- the builder -------------------------------------------------------------------------


def build_request(
    method: str,
    path: str,
    *,
    path_params: Mapping[str, object] | None = None,
    params: Mapping[str, Any] | None = None,
    body: object = None,
    body_field: str = "body",
    objects_only: bool = True,
    body_required: bool = False,
    group: str | None = None,
    idempotent: bool | None = None,
) -> Request:
    """The :class:`Request` for ``method path``, every argument checked (pure: no I/O).

    ``path`` is relative to the API base; ``path_params`` fill its ``{name}`` placeholders,
    each checked as one path segment. ``params``: the query (:func:`encode_params`).
    ``body``: the JSON body (:func:`encode_body`, its errors naming ``body_field``),
    ``None`` for none, unless ``body_required`` (an operation that takes a body: there
    ``None`` is refused, not sent as no body). ``group``: the rate-limit group, when the
    caller knows it (the generator writes it); else a path with ``path_params`` takes
    :func:`template_group` of its template. ``idempotent``: see :class:`Request`.

    Raises :class:`ClientValidationError` naming the argument at fault.
    """
    if not isinstance(method, str) or (
        method not in _KNOWN_METHODS and not _METHOD.fullmatch(method)
    ):
        raise ClientValidationError(
            f"method must be an HTTP method name, got {safe_repr(method)}", field="method"
        )
    template: str | None
    if path_params:
        concrete, template = render_path_and_template(path, path_params)
    else:
        concrete = check_path(path)
        template = concrete if group is not None else None
    if params is not None and not isinstance(params, Mapping):
        raise ClientValidationError("params must be a mapping of names to values", field="params")
    pairs = encode_params(params) if params else ()
    data = None
    if type(body) is JSONBody:  # encoded ahead (a bulk item's): taken as it is
        data = body.data
    elif body is not None or body_required:
        data = encode_body(body, field=body_field, objects_only=objects_only).data
    if group is None and template is not None:
        group = template_group(method, template)
    if group is not None and idempotent is None:  # every generated operation's call
        return Request(method, concrete, pairs, data, template=template, group=group)
    extra: dict[str, Any] = {}
    if group is not None:
        extra["group"] = group
    if idempotent is not None:
        extra["idempotent"] = idempotent
    return Request(method, concrete, pairs, data, template=template, **extra)
