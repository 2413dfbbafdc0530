"""The fallback of the fake server: every operation of Close's OpenAPI document that no
stateful route serves answers its declared success status with a schema-valid body.

A request path matches an operation's path template segment by segment, a ``{param}``
standing for exactly one non-empty segment; where templates overlap, a literal segment
wins over a parameter (``/lead/merge/`` over ``/lead/{id}/``), earlier segments first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._responses import Outcome, dumps
from ._spec_answers import ANSWERS

__all__ = ["CannedAnswers", "canned_answers"]

_Template = tuple[tuple[str | None, ...], dict[str, Outcome]]
"""A path template's segments (``None`` for a parameter) and its answers by method."""


def _segments(template: str) -> tuple[str | None, ...]:
    return tuple(
        None if part.startswith("{") and part.endswith("}") else part
        for part in template.strip("/").split("/")
    )


class CannedAnswers:
    """The answers of ``answers`` ((METHOD, template) -> (status, body or ``None``)), found
    by request path.
    """

    def __init__(self, answers: Mapping[tuple[str, str], tuple[int, Any]]) -> None:
        templates: dict[tuple[str | None, ...], dict[str, Outcome]] = {}
        for (method, template), (status, body) in answers.items():
            payload = b"" if body is None else dumps(body)
            templates.setdefault(_segments(template), {})[method] = (status, payload)
        self._by_length: dict[int, list[_Template]] = {}
        # Literal segments first, position by position: the most specific template wins.
        ordered = sorted(templates.items(), key=lambda t: tuple(s is None for s in t[0]))
        for segments, by_method in ordered:
            self._by_length.setdefault(len(segments), []).append((segments, by_method))

    def match(self, tail: str) -> dict[str, Outcome] | None:
        """The answers by method for ``/api/v1/<tail>`` (``tail`` ends with ``/``), or ``None``
        when no template matches; each method from the most specific template having it.
        """
        if not tail.endswith("/"):
            return None
        parts = tail[:-1].split("/")
        found: dict[str, Outcome] | None = None
        for segments, by_method in self._by_length.get(len(parts), ()):
            if all(
                part if segment is None else part == segment
                for segment, part in zip(segments, parts, strict=True)
            ):
                if found is None:
                    found = dict(by_method)
                else:
                    for method, outcome in by_method.items():
                        found.setdefault(method, outcome)
        return found


_CANNED: CannedAnswers | None = None


def canned_answers() -> CannedAnswers:
    """The answers of Close's whole OpenAPI document (built once, on first use)."""
    global _CANNED
    if _CANNED is None:
        _CANNED = CannedAnswers(ANSWERS)
    return _CANNED
