"""``close-async <resource> update|create|delete INPUT`` for every resource that has the verb.

The resources are found, not listed: each group of the generated client (``leads``,
``contacts``, ``activities.notes``, ...) whose class has the bulk mixin of an action gets
that action, under the group's command-line name (:mod:`.names`: ``notes``; ``main`` reads the old
dotted spelling as that name). All actions run through the one runner of :mod:`.update`, as
``calls update`` does.

Rows: for ``update`` an ``id`` plus the fields to set; for ``create`` the fields; for
``delete`` only ``id``. CSV columns are fields (``custom.cf_...`` columns are custom
fields, sent under that key, as Close accepts); an empty cell means "leave as is" (not
sent) and the cell ``--null-token`` (default ``\\N``) means null; other cells are typed
from the resource's create or update model (:mod:`.cells`). JSON Lines rows are sent as
they are (JSON has its own null).

``create --settle-by custom.cf_...`` is :mod:`.settle_by`'s.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import typing
from collections.abc import AsyncIterable, Callable, Iterator
from typing import Any

import attrs

from .._bulk.run import InDoubt
from .._engine.auth.credentials import API_KEY_ENV
from .._engine.errors import ClientValidationError
from .._engine.http.paths import path_segment
from .._resources.bulk_verbs import BulkCreate, BulkDelete, BulkUpdate
from .._resources.generated._root import Resources
from .._types.model import RequestModel, field_checks, request_fields
from .args import add_file_arguments, resource_parser
from .cells import Check, check_fields, describe_type, row_body
from .input import InputFormat, InputRow, is_failure_record
from .names import cli_name, old_spellings
from .report import Wording
from .settle_by import add_settle_by, check_settle_value, settler
from .update import RowVerb

__all__ = [
    "DEFAULT_NULL_TOKEN",
    "add_bulk_actions",
    "body_model",
    "bulk_groups",
    "command_name",
    "renamed",
    "resource_actions",
    "verb_for",
]

DEFAULT_NULL_TOKEN = "\\N"  # noqa: S105 (a CSV cell, not a secret)
"""The CSV cell that means null (PostgreSQL's ``COPY`` spelling)."""

_ACTIONS: dict[str, type] = {"update": BulkUpdate, "create": BulkCreate, "delete": BulkDelete}
# ``close.calls`` (the group ``activities.calls`` under its own name): ``calls update`` has
# its own typed parser in main, its create and delete go through the same verbs as every
# group.
_CALLS = "activities.calls"
_CALLS_ACTIONS = ("create", "delete")


def _groups(owner: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for name in dir(type(owner)):
        member = inspect.getattr_static(type(owner), name)
        if name.startswith("_") or not isinstance(member, functools.cached_property):
            continue
        group = getattr(owner, name)
        path = f"{prefix}{name}"
        yield path, group
        yield from _groups(group, path + ".")


@functools.cache
def _bulk_classes() -> dict[str, tuple[type, tuple[str, ...]]]:
    """Resource path -> (its group class, the bulk actions it has), from the generated groups."""

    class _Probe(Resources):
        # Groups are built lazily on a requester they never use here.
        def __init__(self) -> None:
            self._requester = None  # type: ignore[assignment]

    found: dict[str, tuple[type, tuple[str, ...]]] = {}
    for path, group in _groups(_Probe(), ""):
        actions = tuple(a for a, mixin in _ACTIONS.items() if isinstance(group, mixin))
        if actions:
            found[path] = (type(group), actions)
    calls, _ = found.pop(_CALLS)
    found["calls"] = (calls, _CALLS_ACTIONS)
    return found


def bulk_groups() -> dict[str, tuple[str, ...]]:
    """Resource path -> the bulk actions its class has, from the generated groups."""
    return {path: actions for path, (_, actions) in _bulk_classes().items()}


def command_name(path: str) -> str:
    """The command-line name of the group at ``path`` (``activities.notes`` -> ``notes``)."""
    return cli_name(path, _bulk_classes())


def renamed() -> dict[str, str]:
    """Each old command-line spelling of a resource -> its name now."""
    return old_spellings(_bulk_classes())


@functools.cache
def body_model(path: str, action: str) -> type | None:
    """The request model ``<path>.<action>(body)`` takes (``LeadCreate``), from the method's
    type hints; ``None`` when the body is an untyped mapping (or there is no body)."""
    group, actions = _bulk_classes()[path]
    if action not in actions or action == "delete":
        return None
    method = getattr(group, action)
    # The body is the first argument after the id, whatever its name (``calls`` names it
    # after the verb).
    names = [n for n in inspect.signature(method).parameters if n not in ("self", "id")]
    body = typing.get_type_hints(method).get(names[0]) if names else None
    for hint in typing.get_args(body) or (body,):
        if isinstance(hint, type) and (issubclass(hint, RequestModel) or attrs.has(hint)):
            return hint
    return None


def _column_types(path: str, action: str) -> dict[str, Any]:
    model = body_model(path, action)
    return request_fields(model) if model is not None else {}


def _column_checks(path: str, action: str) -> dict[str, Check]:
    # The model's own rules for its fields (calls: duration, phone, ...), asked of the
    # row's values before anything is sent, so a bad row is refused in the model's words.
    model = body_model(path, action)
    return field_checks(model) if model is not None else {}


def resource_actions(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> Callable[[str], argparse._SubParsersAction]:  # type: ignore[type-arg]
    """A getter of the ACTION subparsers of ``close-async <resource>``."""
    return lambda name: resource_parser(commands, name)[1]


def add_bulk_actions(
    actions_for: Callable[[str], argparse._SubParsersAction],  # type: ignore[type-arg]
) -> None:
    """Add ``update``, ``create`` and ``delete`` to each resource that has them."""
    for path, actions in bulk_groups().items():
        name = command_name(path)
        subparsers = actions_for(name)
        for action in actions:
            parser = subparsers.add_parser(
                action,
                help=f"{action} {name} from a CSV or JSON Lines file",
                description=(
                    f"{action.capitalize()} many {name} from INPUT: {_ROWS[action]} "
                    f"The API key is read from ${API_KEY_ENV} or --api-key-file."
                ),
            )
            add_file_arguments(parser)
            parser.add_argument(
                "--null-token",
                default=DEFAULT_NULL_TOKEN,
                metavar="TEXT",
                help=f"a CSV cell that means null (default {DEFAULT_NULL_TOKEN})",
            )
            add_settle_by(parser, path, action)
            parser.epilog = _fields_epilog(path, action)
            parser.set_defaults(bulk_target=(path, action))
    return None


def _fields_epilog(path: str, action: str) -> str | None:
    types_by_column = _column_types(path, action)
    if not types_by_column:
        return None
    shown = ", ".join(f"{name} ({describe_type(hint)})" for name, hint in types_by_column.items())
    return f"CSV cells are read as the field's type: {shown}; custom.cf_... columns as text."


_ROWS = {
    "update": "one row an object, with 'id' and the fields to set "
    "(custom.cf_... for custom fields); an empty CSV cell leaves a field as is.",
    "create": "one row an object, its fields (custom.cf_... for custom fields).",
    "delete": "one row an object, with its 'id'.",
}


def verb_for(path: str, action: str, null_token: str, settle_by: str | None = None) -> RowVerb:
    """The :class:`RowVerb` of ``close-async <path> <action>`` (``settle_by``: the
    ``custom.cf_...`` column of ``create --settle-by``)."""
    types_by_column = _column_types(path, action)
    checks = _column_checks(path, action)

    def body(row: InputRow, fmt: InputFormat, strict: bool = True) -> dict[str, Any]:
        assert row.data is not None
        if fmt == "jsonl":
            data = row.data
            if is_failure_record(data):
                # A line of a failures file: its row, so the file can be fed back as it is.
                data = data["row"]
            fields = dict(data)
            if strict:
                check_fields(fields, checks)
            return fields
        return row_body(row.data, types_by_column, null_token, strict=strict, checks=checks)

    def output(row: InputRow, fmt: InputFormat) -> dict[str, Any] | None:
        # A refused row for a JSON Lines failures file: as typed as its cells allow.
        return body(row, fmt, strict=False) if row.data is not None else None

    def object_id(fields: dict[str, Any]) -> str:
        value = fields.pop("id", None)
        if not isinstance(value, str) or not value.strip():
            raise ClientValidationError("'id' is missing or not a string", field="id")
        # The rule of every id put in a path: one refused here is an invalid row, not sent.
        return path_segment(value.strip(), field="id")

    def parse(row: InputRow, fmt: InputFormat) -> tuple[Any, dict[str, Any] | None]:
        fields = body(row, fmt)
        output = dict(fields)
        if action == "create":
            if "id" in fields:
                raise ClientValidationError("a row to create has no 'id'", field="id")
            if not fields:
                raise ClientValidationError("no fields to create with", field="row")
            if settle_by is not None:
                check_settle_value(fields, settle_by)
            if row.in_doubt:
                # Sent by the run that wrote this failures file, answer lost: looked up
                # (--settle-by) before it is sent, or reported unknown again, never re-sent.
                return InDoubt(fields), output
            return fields, output
        object_id_ = object_id(fields)
        if action == "delete":
            if fields:
                raise ClientValidationError(
                    f"a row to delete has only 'id' (got {', '.join(sorted(fields))})",
                    field="row",
                )
            return object_id_, output
        if not fields:
            raise ClientValidationError("no fields to update", field="row")
        return (object_id_, fields), output

    def start(client: Any, items: AsyncIterable[Any], options: dict[str, Any]) -> Any:
        group: Any = client
        for part in path.split("."):
            group = getattr(group, part)
        if settle_by is not None:
            options = {**options, "settle": settler(client, path, settle_by)}
        return getattr(group, f"{action}_many")(items, **options)

    return RowVerb(
        parse=parse,
        start=start,
        needs_id=action != "create",
        output=output,
        wording=Wording.of(action, command_name(path)),
    )
