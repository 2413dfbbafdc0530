"""Building the fake server from plain options: the command line's flags and their keywords."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Iterable
from typing import Any

from ._config import HEADER_STYLES, RATE_LIMIT_STYLES, STYLES_429, FakeFaults, FakeRateLimit
from ._seeding import SEED_KINDS, SeedAction
from ._server import FakeClose
from ._webhook_delivery import WebhookDeliveryConfig

__all__ = [
    "add_fake_server_arguments",
    "fake_close_from_options",
    "options_from_namespace",
]


def fake_close_from_options(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_keys: Iterable[str] = ("test_key",),
    oauth_tokens: Iterable[str] = (),
    forbidden_keys: Iterable[str] = (),
    record_requests: bool = True,
    rate: int | None = None,
    window: float = 1.0,
    style: str = "ratelimit",
    header_style: Any = None,
    style_429: Any = None,
    reset_integer: bool = False,
    error_rate: float = 0.0,
    reject_rate: float = 0.0,
    reset_rate: float = 0.0,
    drop_after_apply_rate: float = 0.0,
    slow_rate: float = 0.0,
    slow_seconds: float = 1.0,
    latency: float = 0.0,
    seed: int = 0,
    fault_methods: Iterable[str] = (),
    strict: bool = False,
    max_skip: int | None = None,
    webhook_duplicate_rate: float = 0.0,
    webhook_jitter: float = 0.0,
    webhook_retry_base: float = 0.5,
    webhook_retry_max: float = 1200.0,
    webhook_max_attempts: int = 10,
    webhook_seed: int = 0,
) -> FakeClose:
    """A :class:`FakeClose` from flat keyword options (the command line's names, underscored).

    ``rate=None`` means no rate limit; faults are configured only when one is non-zero.
    Unlike ``FakeClose()`` it is lenient by default (a first PUT creates an unknown call):
    it serves people trying things out; ``strict=True`` answers 404 as Close does.
    ``max_skip`` caps ``_skip`` on lists (``None``: no cap). The ``webhook_*`` options are
    :class:`WebhookDeliveryConfig`'s fields for deliveries to ``/webhook/`` subscriptions.
    Bad values raise ``ValueError`` (or ``TypeError`` for unknown option names).
    """
    rate_limit = (
        FakeRateLimit(
            rate,
            window=window,
            style=style,
            header_style=header_style,
            style_429=style_429,
            reset_integer=reset_integer,
        )
        if rate is not None
        else None
    )
    fault_values = (error_rate, reject_rate, reset_rate, drop_after_apply_rate, slow_rate, latency)
    faults = (
        FakeFaults(
            error_rate=error_rate,
            reject_rate=reject_rate,
            reset_rate=reset_rate,
            drop_after_apply_rate=drop_after_apply_rate,
            slow_rate=slow_rate,
            slow_seconds=slow_seconds,
            latency=latency,
            seed=seed,
            methods=tuple(fault_methods),
        )
        if any(fault_values)
        else None
    )
    webhook_delivery = WebhookDeliveryConfig(
        retry_base=webhook_retry_base,
        retry_max=webhook_retry_max,
        max_attempts=webhook_max_attempts,
        duplicate_rate=webhook_duplicate_rate,
        jitter=webhook_jitter,
        seed=webhook_seed,
    )
    return FakeClose(
        api_keys=tuple(api_keys),
        oauth_tokens=tuple(oauth_tokens),
        forbidden_keys=tuple(forbidden_keys),
        rate_limit=rate_limit,
        faults=faults,
        host=host,
        port=port,
        record_requests=record_requests,
        strict=strict,
        max_skip=max_skip,
        webhook_delivery=webhook_delivery,
    )


# The webhook_* keywords of fake_close_from_options, as --webhook-* flags (each flag's type
# and default are the keyword's).
_WEBHOOK_FLAGS: tuple[tuple[str, str], ...] = (
    ("duplicate_rate", "webhooks delivered twice"),
    ("jitter", "max random delay of a webhook (s)"),
    ("retry_base", "first webhook retry delay (s)"),
    ("retry_max", "longest webhook retry delay"),
    ("max_attempts", "webhook attempts before giving up"),
    ("seed", "webhook draws seed"),
)


def add_fake_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the fake server's options to ``parser`` (dest names match the keyword options)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="accepted API key (repeatable; default: test_key)",
    )
    parser.add_argument(
        "--oauth-token",
        dest="oauth_tokens",
        action="append",
        default=[],
        metavar="TOKEN",
        help="accepted OAuth bearer token (repeatable)",
    )
    parser.add_argument(
        "--forbidden-key",
        dest="forbidden_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="key or token answered with 403 (repeatable)",
    )
    parser.add_argument("--rate", type=int, default=None, help="requests per window per key")
    parser.add_argument("--window", type=float, default=1.0, help="rate window in seconds")
    parser.add_argument("--style", choices=RATE_LIMIT_STYLES, default="ratelimit")
    parser.add_argument("--header-style", choices=HEADER_STYLES, default=None)
    parser.add_argument("--style-429", choices=STYLES_429, default=None)
    parser.add_argument(
        "--reset-integer",
        action="store_true",
        help="round reset and Retry-After up to whole seconds, as Close does",
    )
    parser.add_argument("--error-rate", type=float, default=0.0, help="5xx HTML probability")
    parser.add_argument(
        "--reject-rate", type=float, default=0.0, help="400 JSON error probability (a 4xx)"
    )
    parser.add_argument("--reset-rate", type=float, default=0.0, help="reset before applying")
    parser.add_argument(
        "--drop-after-apply-rate",
        "--drop-rate",
        type=float,
        default=0.0,
        help="apply, then disconnect",
    )
    parser.add_argument("--slow-rate", type=float, default=0.0, help="slow answer probability")
    parser.add_argument("--slow-seconds", type=float, default=1.0, help="delay of a slow answer")
    parser.add_argument("--latency", type=float, default=0.0, help="delay on every response")
    parser.add_argument(
        "--seed",
        action=SeedAction,
        kinds=SEED_KINDS,
        default=0,
        metavar="KIND=N,...|N",
        help="objects to seed, e.g. lead=50,contact=20,call=10: any kind of the store "
        "(lead, contact, opportunity, task, call, activity.note, pipeline, custom_field.lead, "
        "...; GET /_fake/ lists them); repeatable. A bare number N is the fault seed, "
        "as --fault-seed N",
    )
    parser.add_argument(
        "--fault-seed", dest="seed", type=int, metavar="N", help="fault generator seed (0)"
    )
    parser.set_defaults(seed_objects={})
    parser.add_argument(
        "--fault-methods",
        type=lambda text: [m for m in text.split(",") if m],
        default=[],
        metavar="M1,M2",
        help="methods faults apply to (default: all)",
    )
    parser.add_argument(
        "--seed-calls", type=int, default=0, metavar="N", help="calls to seed (as --seed call=N)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="unknown call ids are 404, as in Close (default: a first PUT creates the call)",
    )
    parser.add_argument(
        "--max-skip",
        type=int,
        default=None,
        metavar="N",
        help="largest _skip a list accepts; larger answers 400 (default: no cap)",
    )
    keywords = inspect.signature(fake_close_from_options).parameters
    for name, text in _WEBHOOK_FLAGS:
        default = keywords[f"webhook_{name}"].default
        flag = "--webhook-" + name.replace("_", "-")
        parser.add_argument(flag, type=type(default), default=default, help=text)
    parser.add_argument(
        "--no-record",
        dest="record_requests",
        action="store_false",
        help="do not keep the list of requests (counters are kept)",
    )


def options_from_namespace(namespace: argparse.Namespace) -> dict[str, Any]:
    """Keyword options for :func:`serve` from parsed :func:`add_fake_server_arguments`:
    :func:`fake_close_from_options`' keywords, ``seed_calls`` and ``seed_objects``.
    """
    # The names are serve()'s keywords, so a new option needs no second list here.
    names = [*inspect.signature(fake_close_from_options).parameters, "seed_calls", "seed_objects"]
    options = {name: getattr(namespace, name) for name in names if name != "api_keys"}
    options["api_keys"] = namespace.api_keys or ["test_key"]
    return options
