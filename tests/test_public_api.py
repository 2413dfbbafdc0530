"""The public surface: one import location, sorted ``__all__``, documented names."""

from __future__ import annotations

import functools
import importlib
import inspect
import re
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


# Every public name, as users import it (`from close_async import ...`). A name may join;
# one that leaves (or moves to a private module only) breaks users' imports.
PUBLIC_NAMES = {
    "DEFAULT_BASE_URL", "UNSET", "APIError", "AuthenticationError", "BatchAbortedError",
    "BulkOptions", "BulkProgress", "BulkRun", "InDoubt", "Call", "CallCreate", "CallUpdate",
    "CallsResource",
    "ClientStats", "CloseClient", "CloseClientView", "CloseError", "ConfigurationError",
    "ConnectError", "DeadlineExceededError", "DecodingError", "InvalidRequestError",
    "LocalRateLimiter", "NotFoundError", "OneBudgetLimiter", "Page", "Pager",
    "PaymentRequiredError",
    "PermissionDeniedError", "ProtocolError", "RateFeedback", "RateLimitError",
    "RateLimitInfo", "RateLimiter", "RawResponseView", "RedisRateLimiter", "Response",
    "ResponseTooLargeError", "RetryEvent", "RetryPolicy", "ServerError", "Timeout",
    "TimeoutError", "TransportError", "Unset", "UpdateInterruptedError",
    "ValidationError", "WebhookVerificationError", "__version__",
    # the typed API (issue 13): the bases and the common models
    "Model", "RequestModel", "Contact", "CreateContact", "CreateLead", "CreateNoteActivity",
    "CreateOpportunity", "CreateTask", "CreateWebhook", "Event", "Lead", "NoteActivity",
    "Opportunity", "Task", "UpdateContact", "UpdateLead", "UpdateNoteActivity",
    "UpdateOpportunity", "UpdateWebhook", "User", "Webhook",
    # OAuth apps
    "DEFAULT_TOKEN_URL", "OAuthError", "OAuthRefresher", "OAuthTokens", "TokenProvider",
    "exchange_code", "revoke_token",
    # bulk for every resource (issue 14)
    "BulkResult", "BulkState", "UnknownOutcomeError", "settle_by_custom_field",
    # streams past the _skip cap (issue 14)
    "DateSlicer", "slice_by_date_created",
    # typed lists past the _skip cap: close.opportunities.list(sliced=SliceOptions(...))
    "SliceOptions",
    "ExportError", "export_rows", "export_stream", "start_export", "wait_for_export",
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


def test_contract_names_are_exported() -> None:
    missing = PUBLIC_NAMES - set(close_async.__all__)
    assert missing == set()


def test_public_names_are_the_objects_the_package_documents() -> None:
    # The client's surface that tests outside the project call.
    from close_async import CloseClient, CloseClientView, Page, Pager, Response
    from close_async._client import _Surface

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
        [sys.executable, "-m", "mypy", "--strict", "tests/typing", "--exclude", "/fail/"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


_EXPECTED_ERROR = re.compile(r"#\s*E:\s*(.+?)\s*$")
_MYPY_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<message>.*)$", re.M)


def test_wrong_uses_fail_mypy_strict_as_marked() -> None:
    # tests/typing/fail/: wrong uses a user's mypy must refuse. Each line marked
    # "# E: <text>" must fail with a message holding that text, and no other line may fail:
    # a type that grew too loose (Any) lets the marked lines pass, and fails this.
    folder = ROOT / "tests" / "typing" / "fail"
    expected: dict[tuple[str, int], str] = {}
    for path in sorted(folder.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            marked = _EXPECTED_ERROR.search(line)
            if marked:
                expected[(path.name, number)] = marked.group(1)
    assert expected, "no wrong uses marked in tests/typing/fail"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[tuple[str, int], list[str]] = {}
    for error in _MYPY_ERROR.finditer(result.stdout):
        place = (Path(error["file"]).name, int(error["line"]))
        found.setdefault(place, []).append(error["message"])
    missing = {
        place: text
        for place, text in expected.items()
        if not any(text in message for message in found.get(place, []))
    }
    unexpected = {place: found[place] for place in found.keys() - expected.keys()}
    assert (missing, unexpected) == ({}, {}), result.stdout + result.stderr


def test_testing_module_imports_standalone() -> None:
    assert importlib.import_module("close_async.testing").FakeClose
