"""The public surface: one import location, sorted ``__all__``, documented names."""

from __future__ import annotations

import functools
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import close_async
import close_async.testing

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in close_async.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in close_async.__all__:
        assert hasattr(close_async, name), name


# The root's names (issue 28, NAMES_28.md "Root exports"): the client, options, every
# error, the core types, the limiters, OAuth. Models are imported from close_async.models
# only; internals and the legacy free functions are not here. A name may not join or leave
# without this list changing with it.
ROOT_NAMES = {
    # the clients
    "CloseClient", "DEFAULT_BASE_URL", "BlockingCloseClient",
    # options (SliceOptions too: NAMES_28.md moves it off the root, but sliced=SliceOptions(
    # max_skip=...) is the only way to give a list's _skip cap, so it stays an option)
    "Timeout", "RetryPolicy", "RetryEvent", "BulkOptions", "SliceOptions",
    # the core types
    "Page", "Pager", "Response", "UNSET", "Unset", "BulkResult", "BulkRun", "BulkState",
    "BulkProgress", "InDoubt", "ClientStats", "Model", "RequestModel",
    # what the blocking client's lists and bulk verbs return
    "BlockingPager", "BlockingBulkRun",
    # the limiters
    "RateLimiter", "LocalRateLimiter", "OneBudgetLimiter", "RedisRateLimiter",
    "RateLimitInfo", "RateFeedback",
    # OAuth apps
    "OAuthRefresher", "TokenProvider", "OAuthTokens", "exchange_code", "revoke_token",
    "DEFAULT_TOKEN_URL",
    "settle_by_custom_field", "__version__",
}  # fmt: skip


def error_names() -> set[str]:
    """Every error class of the one errors module: all of them are exported at the root."""
    from close_async._engine import errors

    return {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), BaseException)
    }


# Names 0.x exported at the root that are gone from it (models: close_async.models).
NOT_AT_ROOT = {
    "CallsResource", "CloseClientView", "RawResponseView", "DateSlicer",
    "start_export", "wait_for_export", "export_stream", "export_rows", "slice_by_date_created",
    "Call", "CallCreate", "CallUpdate", "Lead", "Contact", "Event", "User", "Webhook", "Task",
    "Opportunity", "CreateLead", "UpdateLead", "NoteActivity",
}  # fmt: skip


WEBHOOKS_NAMES = {
    "OnDelivery", "WebhookDelivery", "WebhookEvent", "WebhookVerificationError",
    "aiohttp_handler", "ensure_subscription", "handle_webhook", "parse",
}  # fmt: skip


def test_webhooks_names_are_exported() -> None:
    from close_async import webhooks

    assert set(webhooks.__all__) >= WEBHOOKS_NAMES
    assert webhooks.WebhookVerificationError is close_async.WebhookVerificationError
    assert issubclass(close_async.WebhookVerificationError, close_async.CloseError)


def test_root_exports_exactly_the_planned_names() -> None:
    assert set(close_async.__all__) == ROOT_NAMES | error_names()
    assert len(close_async.__all__) == len(set(close_async.__all__))


def test_models_internals_and_legacy_functions_are_not_at_the_root() -> None:
    import close_async.models

    for name in NOT_AT_ROOT | set(close_async.models.__all__):
        assert not hasattr(close_async, name), name
    # one public module for every model
    assert close_async.models.Lead.__module__.startswith("close_async._types.generated.")


def test_internals_stay_importable_from_their_private_modules() -> None:
    from close_async._client import CloseClientView, RawResponseView
    from close_async._resources.generated.activities_calls import ActivitiesCallsResource
    from close_async._resources.slicer import DateSlicer

    for internal in (CloseClientView, RawResponseView, ActivitiesCallsResource, DateSlicer):
        assert internal.__module__.startswith("close_async._"), internal


def test_what_the_legacy_functions_did_is_a_method() -> None:
    # start_export, wait_for_export, export_stream, export_rows: close.exports.*;
    # slice_by_date_created: a sliced list (close.<group>.list(sliced=True)) or
    # close.paginate(..., sliced=True).
    from close_async._resources.generated.exports import ExportsResource

    for verb in ("start", "wait", "stream", "rows"):
        assert callable(getattr(ExportsResource, verb)), verb
    assert "sliced" in inspect.signature(close_async.CloseClient.paginate).parameters


def test_public_names_are_the_objects_the_package_documents() -> None:
    # The client's surface that tests outside the project call.
    from close_async import CloseClient, Page, Pager, Response
    from close_async._client import CloseClientView, _Surface

    for verb in ("get", "post", "put", "delete", "request", "paginate", "get_page", "search"):
        assert callable(getattr(CloseClient, verb)), verb
        assert callable(getattr(CloseClientView, verb)), verb
    assert callable(CloseClient.with_options)
    # Built once per client or view: the same raw view each time it is read.
    assert isinstance(vars(_Surface)["with_raw_response"], functools.cached_property)
    for attribute in ("data", "has_more", "cursor", "next_params"):
        assert attribute in attrs_fields(Page)
    assert hasattr(Pager, "__anext__")
    assert hasattr(Pager, "pages")
    assert callable(Response.parse)


def attrs_fields(cls: type) -> set[str]:
    import attrs

    return {field.name for field in attrs.fields(cls)}


def test_every_public_name_has_a_docstring() -> None:
    import close_async.models

    for module in (close_async, close_async.testing, close_async.models):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not callable(member):
                        continue
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_modules_are_private() -> None:
    package = Path(close_async.__file__).parent
    # Every module and subpackage is private except the fake server users test against
    # the index of every model, and the webhooks package receivers import.
    allowed = ("testing", "models.py", "py.typed", "webhooks")
    public = [
        p.name for p in package.iterdir() if not p.name.startswith("_") and p.name not in allowed
    ]
    assert public == []


def test_package_is_typed() -> None:
    assert (Path(close_async.__file__).parent / "py.typed").exists()


def test_import_does_not_need_redis() -> None:
    code = (
        "import sys; sys.modules['redis'] = None; sys.modules['redis.asyncio'] = None\n"
        "import close_async\n"
        "try:\n"
        "    close_async.RedisRateLimiter('redis://127.0.0.1:1/0', rate=1)\n"
        "except close_async.ConfigurationError as exc:\n"
        "    assert 'close-async[redis]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('expected ConfigurationError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_typed_usage_and_examples_pass_mypy_strict() -> None:
    # A small user program, checked the way users' CI would check it.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "tests/typed_usage.py", "examples"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typing_assertions_hold_under_mypy_strict() -> None:
    # tests/typing/: assert_type checks of what users' editors show (never run); the wrong
    # uses in tests/typing/fail/ are checked apart, below.
    result = subprocess.run(
        # fail/ holds the wrong uses that must fail: tests/test_typing_fail.py checks them.
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "tests/typing",
            "--exclude",
            "tests/typing/fail/",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_testing_module_imports_standalone() -> None:
    assert importlib.import_module("close_async.testing").FakeClose
