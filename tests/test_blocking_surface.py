"""The blocking client mirrors the async one completely (issue 29, point 1): computed by
walking the async surface, never listed by hand, so a group, operation, mixin verb or
parameter added to the async client without its blocking twin fails here."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from close_async import BlockingCloseClient, CloseClient
from close_async._blocking.client import _BlockingSurface
from close_async._blocking.generic import BlockingGenericVerbs
from close_async._client import _Surface
from close_async._resources.generated._root import RESOURCE_GROUPS
from close_async._resources.generic import GenericVerbs

# Parameters of an async method that are test seams, not words a user passes: the blocking
# twin leaves them out on purpose (it cannot take an async sleep).
TEST_SEAMS = {("ExportVerbs", "wait"): {"sleep", "clock"}}

# The async return annotation (outermost type) and what the blocking twin returns instead;
# anything else awaited comes back as is.
_RETURNS = (
    (r"^Pager\[(.*)\]$", r"BlockingPager[\1]"),
    (r"^BulkRun\[(.*)\]$", r"BlockingBulkRun[\1]"),
    (r"^AsyncIterator\[(.*)\]$", r"Iterator[\1]"),
    (r"^CloseClientView$", "BlockingCloseClientView"),
    (r"^RawResponseView$", "BlockingRawResponseView"),
)

# An async method's input may also be an async iterable, which sync code has none of.
_ASYNC_INPUT = re.compile(r" \| AsyncIterable\[.*\]$")

# Names of the async client that the blocking one spells as sync code expects.
_RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def blocking_return(annotation: str) -> str:
    """What a blocking method returns for an async method returning ``annotation``."""
    for pattern, replacement in _RETURNS:
        if re.match(pattern, annotation):
            return re.sub(pattern, replacement, annotation)
    return annotation


def blocking_parameter(annotation: Any) -> Any:
    """The annotation of a blocking parameter for an async one's ``annotation``."""
    return _ASYNC_INPUT.sub("", annotation) if isinstance(annotation, str) else annotation


def test_blocking_return_maps_each_async_return() -> None:
    assert blocking_return("Pager[Lead]") == "BlockingPager[Lead]"
    assert blocking_return("BulkRun[M]") == "BlockingBulkRun[M]"
    assert blocking_return("AsyncIterator[Any]") == "Iterator[Any]"
    assert blocking_return("Lead") == "Lead"
    assert blocking_return("Page[Any]") == "Page[Any]"
    assert blocking_parameter("Iterable[str] | AsyncIterable[str]") == "Iterable[str]"
    assert blocking_parameter("Mapping[str, Any] | None") == "Mapping[str, Any] | None"


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """Every public method of ``cls`` (its own and its bases', mixins included)."""
    return {
        name: value
        for name, value in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _owner(cls: type, name: str) -> str:
    return next(base.__name__ for base in cls.__mro__ if name in vars(base))


def mismatches(async_cls: type, blocking_cls: type) -> Iterator[str]:
    """Every way ``blocking_cls`` fails to mirror the public methods of ``async_cls``."""
    theirs = public_methods(blocking_cls)
    for name, method in sorted(public_methods(async_cls).items()):
        where = f"{blocking_cls.__name__}.{name}"
        twin = theirs.get(name)
        if twin is None:
            yield f"{where}: missing"
            continue
        yield from _signature_mismatches(where, _owner(async_cls, name), method, twin)


def _signature_mismatches(
    where: str, owner: str, method: Callable[..., Any], twin: Callable[..., Any]
) -> Iterator[str]:
    seams = TEST_SEAMS.get((owner, method.__name__), set())
    wanted = inspect.signature(method)
    got = inspect.signature(twin)
    expected = [p for p in wanted.parameters.values() if p.name not in seams]
    if [(p.name, p.kind, p.default, blocking_parameter(p.annotation)) for p in expected] != [
        (p.name, p.kind, p.default, p.annotation) for p in got.parameters.values()
    ]:
        yield f"{where}: parameters {got} differ from {wanted} (seams left out: {seams})"
    if got.return_annotation != blocking_return(wanted.return_annotation):
        wanted_return = wanted.return_annotation
        yield f"{where}: returns {got.return_annotation!r}, not the twin of {wanted_return!r}"
    if inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin):
        yield f"{where}: is async"


def _group(root: object, dotted: str) -> object:
    for part in dotted.split(".")[1:]:
        root = getattr(root, part)
    return root


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[CloseClient, BlockingCloseClient]]:
    # Built, never used to send: reading a group makes no request.
    blocking = BlockingCloseClient("test_key", base_url="http://127.0.0.1:9/api/v1/")
    try:
        yield CloseClient("test_key", base_url="http://127.0.0.1:9/api/v1/"), blocking
    finally:
        blocking.close()


def test_every_async_group_has_a_blocking_twin_with_every_method(
    clients: tuple[CloseClient, BlockingCloseClient],
) -> None:
    plain, blocking = clients
    problems: list[str] = []
    checked = 0
    for dotted in RESOURCE_GROUPS:
        try:
            async_group, blocking_group = _group(plain, dotted), _group(blocking, dotted)
        except AttributeError as exc:
            problems.append(f"{dotted}: {exc}")
            continue
        problems += mismatches(type(async_group), type(blocking_group))
        checked += len(public_methods(type(async_group)))
    assert problems == []
    # The walk saw the whole surface: generated operations and the mixins' verbs.
    assert len(RESOURCE_GROUPS) > 50
    assert checked > 300
    assert {"update_many", "create_many", "delete_many"} <= set(
        public_methods(type(blocking.leads))
    )
    assert {"start", "wait", "rows", "stream"} <= set(public_methods(type(blocking.exports)))


def test_the_generic_verbs_and_with_options_mirror_the_async_ones() -> None:
    assert list(mismatches(GenericVerbs, BlockingGenericVerbs)) == []
    assert len(public_methods(GenericVerbs)) >= 8
    # The surface's own methods (with_options), generic verbs and groups aside.
    own = {
        name
        for name in public_methods(_Surface)
        if name not in public_methods(GenericVerbs) and not name.startswith("_")
    }
    assert "with_options" in own
    problems = [
        problem
        for problem in mismatches(_Surface, _BlockingSurface)
        if problem.split(".")[1].split(":")[0] in own
    ]
    assert problems == []


def test_the_client_has_every_property_and_method_of_the_async_client() -> None:
    # Everything public on the async client and on its view, by name (renamed where sync
    # code spells it otherwise): properties, the raw view, with_options, close.
    pairs = ((CloseClient, BlockingCloseClient), (_Surface, _BlockingSurface))
    for async_cls, blocking_cls in pairs:
        names = {
            name
            for name in dir(async_cls)
            if not name.startswith("_") or name in ("__aenter__", "__aexit__")
        }
        missing = {name for name in names if not hasattr(blocking_cls, _RENAMED.get(name, name))}
        assert missing == set(), blocking_cls.__name__
        for name in names:
            value = inspect.getattr_static(async_cls, name)
            twin = inspect.getattr_static(blocking_cls, _RENAMED.get(name, name))
            assert type(value) is type(twin) or inspect.isfunction(value), name
    assert list(mismatches(CloseClient, BlockingCloseClient)) == [
        "BlockingCloseClient.aclose: missing"
    ]


def test_the_raw_view_has_every_raw_operation_of_every_group(
    clients: tuple[CloseClient, BlockingCloseClient],
) -> None:
    plain, blocking = clients
    raw, blocking_raw = plain.with_raw_response, blocking.with_raw_response
    problems: list[str] = []
    for dotted in RESOURCE_GROUPS:
        try:
            async_group, blocking_group = _group(raw, dotted), _group(blocking_raw, dotted)
        except AttributeError as exc:
            problems.append(f"{dotted}: {exc}")
            continue
        offered = {name for name in vars(async_group) if not name.startswith("_")}
        twin = {name for name in vars(blocking_group) if not name.startswith("_")}
        if offered != twin:
            problems.append(f"{dotted}: {sorted(offered ^ twin)}")
        for name in offered & twin:
            # The same words as the plain operation, whose twin was checked above.
            wanted = inspect.signature(getattr(async_group, name))
            got = inspect.signature(getattr(blocking_group, name))
            if list(wanted.parameters) != list(got.parameters):
                problems.append(f"{dotted}.{name}: {got} differs from {wanted}")
    for verb in ("request", "get", "post", "put", "delete"):
        if not hasattr(blocking_raw, verb):
            problems.append(f"with_raw_response.{verb}: missing")
    offered = {name for name in vars(raw) if not name.startswith("_")}
    assert offered <= {name for name in vars(blocking_raw) if not name.startswith("_")}
    assert problems == []
