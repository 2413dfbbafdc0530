"""The fake Close as a process: ``close-async fake-server`` and ``python -m close_async.testing``.

Both run :func:`run_fake_server` and print the same lines on stdout (only their default
port differs: 8765 for the command a person types, any free port for the module that
processes start):

    http://127.0.0.1:8765/api/v1/                     the base URL, always the first line
    fake Close listening; lenient: ...                its mode
    API key: test_key (its user: user_...)            the key to use (a given key never shows)
    organization: orga_... (...)                      the seeded organization
    seeded lead: 50 (lead_..., lead_..., lead_..., ...)   one line per seeded kind
    state: http://127.0.0.1:8765/_fake/ (...)         the state, read over HTTP
    try: CLOSE_API_KEY=test_key close-async leads list --base-url http://...
    Ctrl-C stops it.                                  the last line

A client that hangs up is one line on stderr (``fake Close: a client hung up: ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

from ._hangups import LOGGER
from ._options import add_fake_server_arguments, fake_close_from_options, options_from_namespace
from ._seeding import seed_counts, seed_plan
from ._server import FakeClose
from ._world import ORGANIZATION_ID

__all__ = ["FAKE_SERVER_DESCRIPTION", "banner", "main", "run_fake_server", "serve"]

DEFAULT_KEY = "test_key"
LAST_LINE = "Ctrl-C stops it."
_IDS_SHOWN = 3  # seeded ids printed per kind; /_fake/objects/<kind> has them all

FAKE_SERVER_DESCRIPTION = (
    "Serve a fake Close API on loopback until Ctrl-C, for tests, demos and benchmarks: "
    "every operation of Close's API answers as Close does, with its authentication, "
    "rate limits and (optional) faults; every resource (leads, contacts, opportunities, "
    "tasks, calls and every other activity, pipelines, custom fields, ...) is stored and "
    "served statefully, with the event log and search. It prints its base URL first, "
    "then the API key to use and the seeded ids; "
    "its state is readable over HTTP under /_fake/. Its API keys are test keys for the "
    "fake only (default: test_key)."
)


def banner(
    fake: FakeClose, seeded: Mapping[str, Sequence[str]], *, keys_given: int = 0
) -> list[str]:
    """The lines a standalone fake prints once it listens (see the module's docstring).

    ``keys_given`` is how many keys ``--api-key`` gave: those may be real-looking secrets,
    so only the default key is ever printed.
    """
    base_url = fake.base_url
    mode = (
        "strict: an unknown id is a 404, as in Close"
        if fake.strict
        else "lenient: a first PUT to an unknown call id creates that call "
        "(--strict: a 404, as in Close)"
    )
    default = fake.credentials.basic.get(DEFAULT_KEY)
    if keys_given or default is None:
        key_line = f"API key: one of the {keys_given} given with --api-key (not printed)"
        key_value = "<your --api-key>"
    else:
        key_line = f"API key: {DEFAULT_KEY} (its user: {default.user_id})"
        key_value = DEFAULT_KEY
    lines = [
        base_url,
        f"fake Close listening; {mode}",
        key_line,
        f"organization: {ORGANIZATION_ID} (its users, statuses and pipeline: /_fake/objects)",
    ]
    for kind, ids in seeded.items():
        shown = ", ".join([*ids[:_IDS_SHOWN], *(["..."] if len(ids) > _IDS_SHOWN else [])])
        lines.append(f"seeded {kind}: {len(ids)}" + (f" ({shown})" if ids else ""))
    lines += [
        f"state: {fake.url}_fake/ (objects, events, requests, stats; no key needed)",
        f"try: CLOSE_API_KEY={key_value} close-async leads list --base-url {base_url}",
        LAST_LINE,
    ]
    return lines


@contextlib.contextmanager
def _hang_ups_on(err: TextIO) -> Iterator[None]:
    """The fake's log lines (clients hanging up) on ``err`` while the block runs."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("fake Close: %(message)s"))
    level = LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)


async def run_fake_server(
    options: Mapping[str, Any],
    *,
    out: TextIO,
    err: TextIO,
    handle_signals: bool = True,
    quiet: bool = False,
) -> None:
    """Serve a fake built from ``options`` (:func:`options_from_namespace`'s keywords) until
    SIGINT or SIGTERM; print :func:`banner` on ``out`` first (unless ``quiet``).

    Bad option values, and an address it cannot listen on, raise ``ValueError`` before
    anything is printed.
    """
    options = dict(options)
    plan = seed_plan(int(options.pop("seed_calls", 0) or 0), options.pop("seed_objects", None))
    keys = [k for k in options.get("api_keys") or () if k != DEFAULT_KEY]
    fake = fake_close_from_options(**options)
    seeded = seed_counts(fake, plan)
    try:
        await fake.start()
    except OSError as exc:
        host, port = options.get("host", "127.0.0.1"), options.get("port", 0)
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        with _hang_ups_on(err):
            if not quiet:
                out.write(
                    "".join(line + "\n" for line in banner(fake, seeded, keys_given=len(keys)))
                )
                out.flush()
            stop = asyncio.Event()
            if handle_signals:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    # Not every platform lets a loop handle signals; Ctrl-C still ends
                    # asyncio.run there.
                    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                        loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        await fake.stop()


def serve(
    *,
    seed_calls: int = 0,
    seed_objects: Mapping[str, int] | None = None,
    print_url: bool = True,
    **options: Any,
) -> None:
    """Run a fake server until SIGINT/SIGTERM (blocking); ``options`` as for
    :func:`fake_close_from_options`, ``seed_objects`` counts by kind (``{"lead": 50}``).
    With ``print_url`` the lines of :func:`banner` are printed, the base URL first.
    """
    options.update(seed_calls=seed_calls, seed_objects=seed_objects)
    asyncio.run(run_fake_server(options, out=sys.stdout, err=sys.stderr, quiet=not print_url))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m close_async.testing``: what ``close-async fake-server`` does, on any free
    port unless given ``--port``."""
    parser = argparse.ArgumentParser(
        prog="python -m close_async.testing", description=FAKE_SERVER_DESCRIPTION
    )
    add_fake_server_arguments(parser)
    namespace = parser.parse_args(argv)
    try:
        serve(**options_from_namespace(namespace))
    except ValueError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:  # pragma: no cover - signal handlers normally catch it first
        pass
    return 0
