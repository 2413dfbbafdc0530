"""``close-async search QUERY.json`` and ``close-async <resource> list``: stream rows out.

Rows are written as they arrive (JSON Lines, or CSV whose columns are ``--fields`` or the
first row's keys), so a list of any size runs in flat memory; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, TextIO

import attrs

from .._client import CloseClient
from .._engine.errors import CloseError, ConfigurationError
from .args import add_connection_arguments, add_progress_arguments, resource_parser
from .plural import counted

__all__ = ["RESOURCES", "add_listing_commands", "run_listing"]

_MODEL_NAMES: Mapping[str, tuple[str, str, str]] = {
    # CLI name: (list path, model module, model class)
    "leads": ("lead/", "close_async.models", "Lead"),
    "contacts": ("contact/", "close_async.models", "Contact"),
    "opportunities": ("opportunity/", "close_async.models", "Opportunity"),
    "tasks": ("task/", "close_async.models", "Task"),
    "notes": ("activity/note/", "close_async.models", "Note"),
    "calls": ("activity/call/", "close_async.models", "Call"),
}
RESOURCES = tuple(_MODEL_NAMES)
"""The resources ``close-async <resource> list`` knows."""

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def model_fields(resource: str) -> list[str]:
    """The field names of ``resource``'s model (its attrs fields, ``extra`` aside)."""
    import importlib

    _, module, name = _MODEL_NAMES[resource]
    model = getattr(importlib.import_module(module), name)
    return [field.name for field in attrs.fields(model) if field.name != "extra"]


def _output_arguments(
    parser: argparse.ArgumentParser,
    fields_help: str = "comma-separated fields to fetch (and CSV columns)",
) -> None:
    parser.add_argument(
        "--format", choices=("jsonl", "csv"), default="jsonl", help="output format (jsonl)"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here (default stdout)")
    parser.add_argument("--limit", type=int, help="stop after this many rows")
    parser.add_argument("--fields", help=fields_help)
    add_connection_arguments(parser)
    add_progress_arguments(parser, "no progress on stderr")


def add_listing_commands(commands: Any) -> None:
    """Add ``search`` and ``<resource> list`` to the ``close-async`` subcommands."""
    search = commands.add_parser(
        "search",
        help="stream an Advanced Filtering search",
        description=(
            "Stream every object QUERY matches. QUERY is a JSON file holding the query, or a "
            'whole search body ({"query": ..., "_fields": ..., "sort": [...]}).'
        ),
    )
    search.add_argument("query", metavar="QUERY.json", help="the query file, or - for stdin")
    _output_arguments(
        search,
        fields_help=(
            "comma-separated fields to fetch (and CSV columns) for each object type the "
            'query selects (its object_type queries); they replace the file\'s "_fields" '
            "for those types"
        ),
    )
    search.set_defaults(listing="search")

    for resource in RESOURCES:
        parser, actions = resource_parser(commands, resource)
        fields = ", ".join(model_fields(resource))
        parser.epilog = f"fields: {fields}"
        listing = actions.add_parser(
            "list",
            help=f"stream every one of the {resource}",
            description=f"Stream {resource} (GET /{_MODEL_NAMES[resource][0]}).",
            epilog=f"fields: {fields}",
        )
        listing.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="K=V",
            help="a query filter, e.g. lead_id=lead_1 or date_created__gte=2024-01-01",
        )
        listing.add_argument(
            "--max-skip",
            type=int,
            help="the list's _skip cap: walk by date_created windows to get past it",
        )
        _output_arguments(listing)
        listing.set_defaults(listing=resource)


class UsageProblem(Exception):
    """A command line that cannot run; main turns it into its usage error."""


def _filters(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--filter {pair!r}: expected KEY=VALUE")
        params[key] = value
    return params


def _read_query(path: str, stdin: IO[str] | None) -> dict[str, Any]:
    try:
        if path == "-":
            text = stdin.read() if stdin is not None else ""
        else:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        body = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageProblem(f"cannot read the query {path!r}: {exc}") from None
    if not isinstance(body, dict):
        raise UsageProblem(f"the query {path!r} must be a JSON object")
    return body if "query" in body else {"query": body}


def _field_names(args: argparse.Namespace) -> list[str]:
    return [name.strip() for name in (args.fields or "").split(",") if name.strip()]


def selected_types(query: Any) -> list[str]:
    """The object types a search ``query`` selects: its ``object_type`` queries, at the top
    or under ``and``/``or`` (not those inside a related or negated query, which select
    nothing returned), in order, once each."""
    found: list[str] = []
    pending = [query]
    while pending:
        node = pending.pop(0)
        if not isinstance(node, Mapping):
            continue
        kind = node.get("type")
        if kind == "object_type" and isinstance(node.get("object_type"), str):
            if node["object_type"] not in found:
                found.append(node["object_type"])
        elif kind in ("and", "or") and isinstance(node.get("queries"), list):
            pending.extend(node["queries"])
    return found


def search_fields(body: Mapping[str, Any], names: list[str]) -> Any:
    """The search's ``_fields``: ``names`` for each object type the query selects, over
    the body's own ``_fields`` (Close returns only ``id`` for a type not named there)."""
    if not names:
        return body.get("_fields")
    types = selected_types(body["query"])
    if not types:
        raise UsageProblem(
            "--fields needs the query to select its object type (an object_type query, "
            'e.g. {"type": "object_type", "object_type": "lead"}), or put "_fields" in the '
            "query file"
        )
    given = body.get("_fields")
    fields = dict(given) if isinstance(given, Mapping) else {}
    fields.update((object_type, list(names)) for object_type in types)
    return fields


def _rows(client: CloseClient, args: argparse.Namespace, stdin: IO[str] | None) -> Any:
    fields = _field_names(args)
    if args.listing == "search":
        body = _read_query(args.query, stdin)
        return client.search(
            body["query"],
            # A search names its fields per object type: --fields for every type it selects.
            fields=search_fields(body, fields),
            sort=body.get("sort"),
            limit=args.limit,
        )
    path = _MODEL_NAMES[args.listing][0]
    params: dict[str, Any] = _filters(args.filter)
    if fields:
        params["_fields"] = ",".join(fields)
    if args.max_skip is not None:
        from .._resources.slicer import SliceOptions

        start = _bound(params.pop("date_created__gte", None), _EPOCH)
        end = _bound(params.pop("date_created__lt", None), datetime.now(UTC))
        options = SliceOptions(start=start, end=end, max_skip=args.max_skip)
        return _limited(client.paginate(path, params=params, sliced=options), args.limit)
    return _limited(client.paginate(path, params=params), args.limit)


def _bound(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"not a datetime: {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def _limited(rows: Any, limit: int | None) -> AsyncIterator[Any]:
    count = 0
    async for row in rows:
        if limit is not None and count >= limit:
            return
        count += 1
        yield row


@contextlib.contextmanager
def _opened(path: str | None, out: TextIO) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield out
        return
    try:
        # Opened here, closed by the with below: an open failure must be a usage error.
        stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageProblem(f"cannot write {path!r}: {exc.strerror or exc}") from None
    with stream:
        yield stream


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


async def run_listing(
    args: argparse.Namespace, api_key: str, out: TextIO, err: TextIO, stdin: IO[str] | None
) -> int:
    """Stream the rows ``args`` ask for; return 0, or 1 when Close refused part-way."""
    try:
        client = CloseClient(api_key, base_url=args.base_url)
    except (ConfigurationError, ValueError) as exc:
        raise UsageProblem(str(exc)) from None
    del api_key
    written = 0
    last = time.monotonic()
    columns = _field_names(args)
    async with client:
        rows = _rows(client, args, stdin)
        with _opened(args.output, out) as stream:
            writer: Any = None
            try:
                async for row in rows:
                    if args.format == "jsonl":
                        stream.write(json.dumps(row, separators=(",", ":")) + "\n")
                    else:
                        if writer is None:
                            columns = columns or list(row)
                            writer = csv.writer(stream)
                            writer.writerow(columns)
                        writer.writerow([_cell(row.get(name)) for name in columns])
                    written += 1
                    if not args.no_progress and time.monotonic() - last >= args.progress_interval:
                        last = time.monotonic()
                        err.write(f"{counted(written, 'row')}\n")
            except CloseError as exc:
                err.write(f"stopped after {counted(written, 'row')}: {exc}\n")
                return 1
    if not args.no_progress:
        where = args.output if args.output not in (None, "-") else "stdout"
        err.write(f"{counted(written, 'row')} written to {where}\n")
    return 0
