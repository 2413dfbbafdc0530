"""``<resource> create --settle-by custom.cf_...``: settle lost creates by an external id.

Only where :func:`~close_async.settle_by_custom_field` can search (leads, contacts,
opportunities): each create whose answer was lost is looked up by the row's value in that
custom field, and sent again only when it is not there. Elsewhere the option is refused
with an error that says where it works.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .._bulk.run import Settle
from .._bulk.settle import settle_by_custom_field
from .._engine.errors import ClientValidationError

__all__ = ["SETTLE_RESOURCES", "add_settle_by", "check_settle_value", "settler"]

SETTLE_RESOURCES = {"leads": "lead", "contacts": "contact", "opportunities": "opportunity"}
"""``<resource> create --settle-by``: CLI path -> the object type the settler searches."""
_SETTLE_PREFIX = "custom.cf_"


def _settle_field(text: str) -> str:
    if not text.startswith(_SETTLE_PREFIX) or len(text) == len(_SETTLE_PREFIX):
        raise argparse.ArgumentTypeError(
            f"expected a custom field column, custom.cf_..., got {text!r}"
        )
    return text


class _NoSettle(argparse.Action):
    # --settle-by given where it cannot work: say where it can (argparse's own "unrecognized
    # arguments" would not).
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        where = ", ".join(f"'{path} create'" for path in SETTLE_RESOURCES)
        parser.error(f"--settle-by works only with {where} (Close can be searched for those)")


def add_settle_by(parser: argparse.ArgumentParser, path: str, action: str) -> None:
    """``--settle-by`` on ``<path> <action>``: the option where it works, else a hidden one
    that refuses it, saying where it works."""
    if action == "create" and path in SETTLE_RESOURCES:
        parser.add_argument(
            "--settle-by",
            type=_settle_field,
            metavar="custom.cf_...",
            help=(
                "a custom field column holding each row's unique external id: a create whose "
                "answer was lost is looked up by it (and sent again only if absent), so "
                "every row ends created exactly once"
            ),
        )
    else:
        parser.add_argument("--settle-by", action=_NoSettle, help=argparse.SUPPRESS)


def settler(client: Any, path: str, column: str) -> Settle:
    """The ``settle=`` of ``close-async <path> create --settle-by <column>``."""
    return settle_by_custom_field(client, resource=SETTLE_RESOURCES[path], field=column)


def check_settle_value(fields: dict[str, Any], column: str) -> None:
    """Refuse, before it is sent, a row the settler could not look up by ``column``."""
    # Where the settler looks: the flat custom.cf_ key, or the "custom" object of JSON rows.
    value = fields.get(column)
    nested = fields.get("custom")
    if value is None and isinstance(nested, dict):
        value = nested.get(column.removeprefix("custom."))
    if not isinstance(value, str) or not value:
        raise ClientValidationError(
            f"--settle-by {column}: the row has no {column} value to settle by", field=column
        )
