"""The options every file-driven bulk action takes (``calls update``, ``leads create``, ...)."""

from __future__ import annotations

import argparse

from .._client import DEFAULT_BASE_URL
from .._engine.auth.credentials import API_KEY_ENV

__all__ = [
    "add_connection_arguments",
    "add_file_arguments",
    "add_progress_arguments",
    "positive_float",
    "positive_int",
]


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite positive number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """INPUT and the options of a run over it."""
    parser.add_argument("input", metavar="INPUT", help="a .csv or .jsonl file, or - for stdin")
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), help="input format (default: from the extension)"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=32, help="requests in flight (default 32)"
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        help="cap on requests per second (default: pace by what Close reports)",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="record landed rows here; a rerun with the same journal skips them",
    )
    parser.add_argument(
        "--failures",
        metavar="OUT",
        help=(
            "write failed and invalid rows here, in the input's format (a CSV input's as "
            "JSON Lines if OUT ends in .jsonl), to feed back as input"
        ),
    )
    parser.add_argument("--dry-run", action="store_true", help="check every row; send nothing")
    add_connection_arguments(parser)
    add_progress_arguments(parser, "no progress bar (plain progress lines)")


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and ``--api-key-file``: where to send, and the key to send with."""
    parser.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help=f"API base URL (default {DEFAULT_BASE_URL})"
    )
    parser.add_argument(
        "--api-key-file",
        metavar="PATH",
        help=f"read the API key from the first line of PATH (default: ${API_KEY_ENV})",
    )


def add_progress_arguments(parser: argparse.ArgumentParser, no_progress_help: str) -> None:
    """``--no-progress`` (what it turns off is the command's own) and the hidden
    ``--progress-interval``, seconds between plain progress lines."""
    parser.add_argument("--no-progress", action="store_true", help=no_progress_help)
    parser.add_argument(
        "--progress-interval", type=positive_float, default=5.0, help=argparse.SUPPRESS
    )


def resource_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:  # type: ignore[type-arg]
    """The parser of ``close-async <name>`` and its ACTION subparsers, made on first use.

    Several modules add actions to one resource (the bulk verbs, ``list``): each asks here,
    so the second finds the first one's parser rather than replacing it.
    """
    parser = commands.choices.get(name)
    if parser is None:
        parser = commands.add_parser(name, help=f"{name} in Close")
    for action in parser._actions:  # argparse keeps no public handle on a parser's subparsers
        if isinstance(action, argparse._SubParsersAction):
            return parser, action
    return parser, parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
