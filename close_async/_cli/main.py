"""The ``close-async`` command line.

    close-async calls update INPUT [--format csv|jsonl] [--concurrency N] [--rate R]
                                   [--journal PATH] [--failures OUT] [--dry-run]
                                   [--base-url URL] [--api-key-file PATH] [--no-progress]
    close-async <resource> update|create|delete INPUT [--null-token TEXT] [same options]
    close-async leads|contacts|opportunities create INPUT --settle-by custom.cf_... [...]
    close-async fake-server [--port 8765] [--seed lead=50,call=10] [--strict] [--rate R] ...
    close-async demo [--calls N] [--concurrency N] [--rate R]

The API key comes from ``CLOSE_API_KEY`` or the first line of ``--api-key-file``; never
from a flag (a flag's value shows in ``ps`` and in shell history), and it is never printed.

Exit status: 0 all good; 1 some update failed or some row was invalid; 2 usage, missing
credentials or an unusable input file; 3 the batch was aborted because Close refused the
credentials (401/403); 130 interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TextIO

from rich.console import Console

from .._client import CloseClient
from .._engine.auth.credentials import API_KEY_ENV
from .._engine.errors import ConfigurationError
from .._engine.ratelimit.local import LocalRateLimiter
from .args import add_file_arguments, add_progress_arguments, positive_int
from .failures import open_failures
from .input import (
    InputError,
    InputFormat,
    count_rows,
    detect_format,
    failures_format,
    open_input,
    read_rows,
)
from .listing import UsageProblem, add_listing_commands, run_listing
from .names import respell
from .plural import counted
from .report import (
    CALLS_UPDATE_WORDING,
    Display,
    MessageLimiter,
    PlainDisplay,
    RichDisplay,
    SilentDisplay,
    Wording,
    print_summary,
    write_line,
)
from .resources import add_bulk_actions, renamed, resource_actions, verb_for
from .settle_by import add_settle_by
from .update import (
    CALLS_UPDATE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RowVerb,
    UpdateOutcome,
    UpdateSettings,
    run_updates,
    validate_rows,
)

__all__ = ["amain", "build_parser", "main"]

_PROG = "close-async"


class _UsageError(Exception):
    """A problem the user must fix before anything can run (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``close-async`` (all subcommands)."""
    from ..testing import FAKE_SERVER_DESCRIPTION, add_fake_server_arguments

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Create, update, delete, list and search every resource of the Close API in bulk "
            "(leads, contacts, opportunities, tasks, activities, calls, ...), fast, through "
            "rate limits and faults. 'close-async RESOURCE --help' lists a resource's actions."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    calls = commands.add_parser("calls", help="call activities")
    calls_commands = calls.add_subparsers(dest="calls_command", metavar="ACTION", required=True)
    update = calls_commands.add_parser(
        "update",
        help="update calls from a CSV or JSON Lines file",
        description=(
            "Update many calls from INPUT: one row a call, with 'id' and the fields to set "
            "(note, note_html, outcome_id, status, duration, custom.<field_id>, ...). "
            f"The API key is read from ${API_KEY_ENV} or --api-key-file."
        ),
    )
    add_file_arguments(update)
    add_settle_by(update, "calls", "update")
    add_bulk_actions(resource_actions(commands))

    add_listing_commands(commands)

    fake = commands.add_parser(
        "fake-server",
        help="run the bundled fake Close API on loopback (for tests and trying things out)",
        description=FAKE_SERVER_DESCRIPTION,
    )
    add_fake_server_arguments(fake)
    fake.set_defaults(port=8765)

    demo = commands.add_parser(
        "demo",
        help="watch a bulk update run against an in-process fake Close (no account needed)",
    )
    demo.add_argument("--calls", type=positive_int, default=2000, help="calls to update")
    demo.add_argument("--concurrency", type=positive_int, default=32, help="updates in flight")
    demo.add_argument(
        "--rate", type=positive_int, default=100, help="the fake's limit, requests/s per key"
    )
    demo.add_argument("--seed", type=int, default=1, help="seed of the injected faults")
    add_progress_arguments(demo, "plain progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``close-async`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        return asyncio.run(amain(argv))
    except KeyboardInterrupt:
        # Only reached before the signal handlers are installed, or where they cannot be.
        sys.stderr.write("interrupted\n")
        return 130


async def amain(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    handle_signals: bool = True,
) -> int:
    """``main`` for callers already in an event loop (tests): same arguments, same status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    env = environ if environ is not None else os.environ
    parser = build_parser()
    # An old spelling of a resource (activities.notes) runs as its name now, and says so.
    argv, notice = respell(sys.argv[1:] if argv is None else argv, renamed())
    if notice is not None:
        write_line(err, f"{_PROG}: {notice}")
    try:
        with _argparse_output(out, err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if getattr(args, "listing", None):
            return await _listing(args, out, err, env)
        target = getattr(args, "bulk_target", None)
        verb = (
            verb_for(target[0], target[1], args.null_token, getattr(args, "settle_by", None))
            if target
            else None
        )
        if verb is not None or args.command == "calls":
            return await _calls_update(args, out, err, env, handle_signals, verb or CALLS_UPDATE)
        if args.command == "fake-server":
            return await _fake_server(args, out, err, handle_signals)
        from .demo import run_demo

        display = _display(err, no_progress=args.no_progress, interval=args.progress_interval)
        return await run_demo(
            calls=args.calls,
            concurrency=args.concurrency,
            rate=args.rate,
            seed=args.seed,
            out=out,
            display=display,
            handle_signals=handle_signals,
        )
    except _UsageError as exc:
        write_line(err, f"{_PROG}: error: {exc}")
        return EXIT_USAGE


@contextlib.contextmanager
def _argparse_output(out: TextIO, err: TextIO) -> Iterator[None]:
    # argparse writes --help and errors to sys.stdout/sys.stderr: point them at ours.
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield


def _display(
    err: TextIO, *, no_progress: bool, interval: float, wording: Wording = CALLS_UPDATE_WORDING
) -> Display:
    if not no_progress and err.isatty():
        return RichDisplay(Console(file=err), wording=wording)
    return PlainDisplay(err, interval=interval, wording=wording)


def _read_api_key(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    if args.api_key_file:
        try:
            with open(args.api_key_file, encoding="utf-8") as stream:
                key = stream.readline().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise _UsageError(
                f"cannot read --api-key-file {args.api_key_file!r}: {reason}"
            ) from None
        if not key:
            raise _UsageError(f"--api-key-file {args.api_key_file!r}: the first line is empty")
        return key
    key = env.get(API_KEY_ENV, "").strip()
    if not key:
        raise _UsageError(
            f"no API key: set {API_KEY_ENV}, or pass --api-key-file PATH "
            "(a file whose first line is the key)"
        )
    return key


async def _listing(
    args: argparse.Namespace, out: TextIO, err: TextIO, env: Mapping[str, str]
) -> int:
    try:
        return await run_listing(args, _read_api_key(args, env), out, err, sys.stdin)
    except UsageProblem as exc:
        raise _UsageError(str(exc)) from None


async def _calls_update(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str],
    handle_signals: bool,
    verb: RowVerb = CALLS_UPDATE,
) -> int:
    try:
        fmt = detect_format(args.input, args.format)
        if args.failures:
            failures_format(args.failures, fmt)
    except InputError as exc:
        raise _UsageError(str(exc)) from None
    if args.failures and _same_file(args.input, args.failures):
        # The failures file is opened (emptied) before the input is read.
        raise _UsageError(
            f"--failures {args.failures!r} is the input: write the failures of a rerun to "
            "another file"
        )

    if args.dry_run:
        return _dry_run(args, fmt, out, err, verb)

    api_key = _read_api_key(args, env)
    try:
        client = CloseClient(
            api_key,
            base_url=args.base_url,
            rate_limiter=LocalRateLimiter(rate=args.rate) if args.rate else None,
            max_connections=args.concurrency,
        )
    except (ConfigurationError, ValueError) as exc:
        raise _UsageError(str(exc)) from None
    del api_key

    display = _display(
        err, no_progress=args.no_progress, interval=args.progress_interval, wording=verb.wording
    )
    settings = UpdateSettings(
        concurrency=args.concurrency,
        journal=args.journal,
        failures=args.failures,
        handle_signals=handle_signals,
    )
    try:
        stream = open_input(args.input)
    except InputError as exc:
        await client.aclose()
        raise _UsageError(str(exc)) from None
    total = count_rows(args.input, fmt)
    try:
        async with client:
            outcome = await run_updates(
                client,
                read_rows(stream, fmt, need_id=verb.needs_id),
                fmt,
                settings,
                display,
                total=total,
                verb=verb,
            )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    _explain_ending(outcome, settings, err, creates=not verb.needs_id)
    # Both streams often go to one terminal or log: every problem first, the summary last.
    err.flush()
    print_summary(outcome.counts, out, wording=verb.wording)
    return outcome.exit_code


def _same_file(first: str, second: str) -> bool:
    try:
        return first != "-" and os.path.samefile(first, second)
    except OSError:  # the failures file does not exist yet
        return False


def _dry_run(
    args: argparse.Namespace, fmt: InputFormat, out: TextIO, err: TextIO, verb: RowVerb
) -> int:
    try:
        stream = open_input(args.input)
    except InputError as exc:
        raise _UsageError(str(exc)) from None
    limiter = MessageLimiter(SilentDisplay(err))
    failures = open_failures(args.failures, fmt)
    try:
        valid, invalid = validate_rows(
            read_rows(stream, fmt, need_id=verb.needs_id), fmt, limiter, failures, verb
        )
    except InputError as exc:
        raise _UsageError(str(exc)) from None
    finally:
        failures.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    if limiter.hidden:
        err.write(f"... and {counted(limiter.hidden, 'more invalid row')} not shown\n")
    err.flush()
    out.write(
        f"dry run: {counted(valid + invalid, 'row')} read: {valid:,} valid, {invalid:,} invalid; "
        "nothing was sent\n"
    )
    if invalid and args.failures:
        out.write(f"invalid rows written to {args.failures}\n")
    return EXIT_FAILED if invalid else EXIT_OK


def _explain_ending(
    outcome: UpdateOutcome, settings: UpdateSettings, err: TextIO, *, creates: bool = False
) -> None:
    counts = outcome.counts
    if outcome.problems_hidden:
        err.write(f"... and {counted(outcome.problems_hidden, 'more problem')} not shown\n")
    if (counts.failed or counts.invalid) and settings.failures:
        err.write(
            f"failed and invalid rows are in {settings.failures}: fix them and run it as input\n"
        )
    elif counts.failed or counts.invalid:
        err.write("pass --failures FILE to keep the failed and invalid rows for a rerun\n")
    elif counts.unknown and settings.failures:
        # Nothing to fix, only rows in doubt: the next lines say how to feed them back.
        err.write(f"the unknown rows are in {settings.failures}\n")
    elif counts.unknown:
        err.write("pass --failures FILE to keep the unknown rows for a rerun\n")
    if counts.unknown:
        one = counts.unknown == 1
        err.write(
            f"{counted(counts.unknown, 'create')} {'was' if one else 'were'} sent but "
            f"{'its' if one else 'their'} answer was lost: {'it' if one else 'they'} may exist "
            "in Close. Feed back the failures file (they are marked unknown in it) or rerun "
            "with the same --journal, with --settle-by COLUMN where each row has a unique "
            "external id in a custom field: they are looked up and only those not there are "
            "created; without --settle-by they are reported unknown again, never sent twice\n"
        )
    if outcome.input_error is not None:
        write_line(err, f"{_PROG}: error: the input could not be read: {outcome.input_error}")
    if outcome.aborted is not None:
        write_line(err, f"{_PROG}: aborted: Close refused the credentials: {outcome.aborted.cause}")
        err.write("check the API key and its permissions; nothing more was sent\n")
    if outcome.interrupted or outcome.aborted is not None:
        left = (
            f"{counted(counts.not_sent, 'row')} {'was' if counts.not_sent == 1 else 'were'} "
            "not sent"
            if counts.total is not None
            else (
                f"{counted(counts.not_sent, 'row')} in flight "
                f"{'was' if counts.not_sent == 1 else 'were'} not sent, and the rest of the "
                "input was not read"
            )
        )
        if settings.journal:
            rerun = (
                f"rerun the same command with --journal {settings.journal} to finish: "
                f"{'creates' if creates else 'updates'} that landed are skipped"
            )
        elif creates:
            rerun = "with no --journal a rerun sends every row again: creates would be duplicated"
        else:
            rerun = "rerun to finish (with no --journal every row is sent again; PUT is idempotent)"
        err.write(f"{'interrupted' if outcome.interrupted else 'stopped'}: {left}; {rerun}\n")


async def _fake_server(
    args: argparse.Namespace, out: TextIO, err: TextIO, handle_signals: bool
) -> int:
    # The same code as python -m close_async.testing: the same lines, the same state.
    from ..testing import options_from_namespace, run_fake_server

    try:
        options = options_from_namespace(args)
        await run_fake_server(options, out=out, err=err, handle_signals=handle_signals)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    return EXIT_OK
