"""Paths relative to the API base: checked, so no caller's value can steer a request elsewhere.

A path such as ``"lead/lead_x/"`` is joined to the base URL as it is (already encoded), so
anything that would change its meaning is refused before a request is built: ``..`` or ``.``
segments (``"lead/../user/"``), ``?`` and ``#`` (a query or fragment smuggled in), ``%``
(an encoded ``/`` or ``..``), backslashes, whitespace, control and non-ASCII characters, an
empty segment, a scheme or host (``"https://evil/"``, ``"//evil/"``).

Values put into a path (ids) go through :func:`path_segment`, which also refuses ``/``, so
``f"lead/{lead_id}/"`` with a hostile ``lead_id`` cannot reach another endpoint.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from ..errors import ClientValidationError
from ..ids import safe_repr

__all__ = [
    "check_path",
    "path_segment",
    "path_template",
    "render_path",
    "render_path_and_template",
]

# RFC 3986 unreserved characters plus a few sub-delimiters seen in Close's paths; the
# characters that would re-route a request (/ ? # % \ and whitespace) are not among them.
_SEGMENT = re.compile(r"[A-Za-z0-9_.~:@!$&'()*+,;=-]+", re.ASCII)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_LENGTH = 1000


def _refuse(what: str, value: object, field: str) -> ClientValidationError:
    return ClientValidationError(f"{field} {what}, got {safe_repr(value)}", field=field)


def path_segment(value: object, *, field: str = "id") -> str:
    """``value`` if it can stand as one path segment (an id), else raise.

    Refused: anything but a non-empty string, ``.`` and ``..``, and any character outside
    letters, digits and ``_ . ~ : @ ! $ & ' ( ) * + , ; = -`` (so ``/``, ``?``, ``#``,
    ``%``, backslashes and whitespace). Raises :class:`ClientValidationError` naming ``field``.
    """
    if not isinstance(value, str):
        raise _refuse("must be a string", value, field)
    if not value:
        raise _refuse("must not be empty", value, field)
    if len(value) > _MAX_LENGTH:
        raise _refuse(f"must be at most {_MAX_LENGTH} characters", value, field)
    if value in (".", "..") or _SEGMENT.fullmatch(value) is None:
        raise _refuse(
            "must be one path segment (no '/', '?', '#', '%', '..', spaces or control characters)",
            value,
            field,
        )
    return value


def check_path(path: object) -> str:
    """``path`` relative to the API base, with no leading and one trailing slash.

    ``"/lead/lead_x/"``, ``"lead/lead_x/"`` and ``"lead/lead_x"`` all give
    ``"lead/lead_x/"`` (Close requires the trailing slash). Raises
    :class:`ClientValidationError` (``field="path"``) for anything that could change where
    the request goes: see the module docstring.
    """
    if not isinstance(path, str):
        raise _refuse("must be a string such as 'lead/' or '/lead/lead_x/'", path, "path")
    if path.startswith("//") or "://" in path:
        raise _refuse("must be relative to the API base URL, not a URL", path, "path")
    inner = path.removeprefix("/").removesuffix("/")
    if not inner:
        raise _refuse("must name an endpoint", path, "path")
    for segment in inner.split("/"):
        if not segment:
            raise _refuse("must not have an empty segment ('//')", path, "path")
        if segment in (".", ".."):
            raise _refuse("must not have '.' or '..' segments", path, "path")
        if _SEGMENT.fullmatch(segment) is None:
            bad = next(c for c in segment if not _SEGMENT.fullmatch(c))
            shown = "a space" if bad in string.whitespace else safe_repr(bad)
            raise _refuse(
                f"must not contain {shown}: give query parameters as params=", path, "path"
            )
    if len(inner) > _MAX_LENGTH:
        raise _refuse(f"must be at most {_MAX_LENGTH} characters", path, "path")
    return inner + "/"


def render_path(template: str, values: Mapping[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]``, each checked by
    :func:`path_segment` (named after its placeholder), then the whole by :func:`check_path`.

    ``render_path("lead/{lead_id}/", {"lead_id": "lead_x"})`` gives ``"lead/lead_x/"``.
    Raises :class:`ClientValidationError` for a missing, unused or unsafe value.
    """
    return render_path_and_template(template, values)[0]


def render_path_and_template(template: str, values: Mapping[str, object]) -> tuple[str, str]:
    """:func:`render_path` and :func:`path_template` of ``template`` at once (what a request
    builder needs: the path sent, and the template tracing and limits name it by)."""
    plan = _PLANS.get(template)
    if plan is None and template not in _PLANS:
        plan = _plan(template)
    if plan is not None:
        # The template's own text was checked once; each value is one safe segment (no
        # '/', never '.' or '..', not empty), so the whole needs no second check.
        pieces, names, shaped = plan
        if len(names) == 1:  # the common case, without the loop
            name = names[0]
            if len(values) == 1 and name in values:
                rendered = pieces[0] + path_segment(values[name], field=name) + pieces[1]
                if len(rendered) <= _MAX_LENGTH + 1:  # check_path's cap, its '/' aside
                    return rendered, shaped
        elif len(values) == len(names) and all(n in values for n in names):
            parts = [pieces[0]]
            for name, piece in zip(names, pieces[1:], strict=True):
                parts += (path_segment(values[name], field=name), piece)
            rendered = "".join(parts)
            if len(rendered) <= _MAX_LENGTH + 1:
                return rendered, shaped
    return _render_checked(template, values), path_template(template)


_Plan = tuple[tuple[str, ...], tuple[str, ...], str]
_PLANS: dict[str, _Plan | None] = {}
_MAX_PLANS = 1024  # templates are the generator's (a few hundred) or a caller's


def _plan(template: str) -> _Plan | None:
    """The text around a template's placeholders (the template shaped as :func:`check_path`
    shapes a path), their names and the shaped template, worked out once per template;
    ``None`` when the
    template is not plain (its text alone would not be a valid path, or a name repeats):
    such a template is rendered and checked whole, for the same errors."""
    shaped = template.removeprefix("/").removesuffix("/") + "/"
    names = tuple(_PLACEHOLDER.findall(shaped))
    plan: _Plan | None = None
    if names and len(set(names)) == len(names):
        try:
            check_path(_PLACEHOLDER.sub("x", shaped))
        except ClientValidationError:
            pass
        else:
            plan = (tuple(_PLACEHOLDER.split(shaped)[::2]), names, shaped)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[template] = plan
    return plan


def _render_checked(template: str, values: Mapping[str, object]) -> str:
    wanted = _PLACEHOLDER.findall(template)
    missing = [name for name in wanted if name not in values]
    if missing:
        raise ClientValidationError(f"path_params lacks {missing[0]!r}", field=missing[0])
    unused = sorted(set(values) - set(wanted))
    if unused:
        raise ClientValidationError(
            f"path_params has {unused[0]!r}, which the path does not use", field=unused[0]
        )
    rendered = _PLACEHOLDER.sub(lambda m: path_segment(values[m[1]], field=m[1]), template)
    return check_path(rendered)


def path_template(template: str) -> str:
    """``template`` as :func:`render_path` would shape it, placeholders kept: what tracing
    names the endpoint by (``"/lead/{lead_id}"`` gives ``"lead/{lead_id}/"``).

    Only for a template :func:`render_path` accepted: nothing is checked here.
    """
    return template.removeprefix("/").removesuffix("/") + "/"
