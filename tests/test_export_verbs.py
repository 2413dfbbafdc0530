"""``close.exports.start/wait/rows/stream`` against the fake Close, and the mixin table."""

from __future__ import annotations

import re

import pytest
from aioresponses import aioresponses

from close_async import (
    APITimeoutError,
    ClientValidationError,
    CloseClient,
    ConfigurationError,
    ExportError,
    ResponseTimeoutError,
    RetryPolicy,
)
from close_async._resources.export_verbs import ExportVerbs
from close_async._resources.generated.exports import ExportsResource
from close_async.models import Export
from close_async.testing import FakeClose
from tests.conftest import API_KEY
from tools.codegen.render import mixins_of
from tools.codegen.spec import NamespaceDef, OperationDef, load


async def test_stream_yields_every_lead_once_the_export_is_done(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 0.05
    ids = fake.seed_objects("lead", 12)
    rows = [row async for row in close.exports.stream("lead", first_wait=0.01)]
    assert [row["id"] for row in rows] == ids
    # Started, then polled until done: more than one GET of the export.
    export_id = next(iter(fake.exports.exports))
    polls = [r for r in fake.requests if r.path.endswith(f"/export/{export_id}/")]
    assert len(polls) > 1
    asked = close.exports.stream("lead", send_done_email=True, first_wait=0.01)
    assert len([row async for row in asked]) == 12
    started = [r.body for r in fake.requests if r.path.endswith("/export/lead/")]
    assert [body["send_done_email"] for body in started] == [False, True]


async def test_start_wait_rows_one_by_one_read_the_format_from_the_export(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 0.05
    ids = fake.seed_objects("opportunity", 3, note="a, b")
    started = await close.exports.start("opportunity", format="csv", params={"status_type": "won"})
    assert isinstance(started, Export)
    assert started.status == "created"
    assert started.download_url is None
    with pytest.raises(ClientValidationError, match="wait for it first"):
        close.exports.rows(started)
    done = await close.exports.wait(started, first_wait=0.01)
    assert done.status == "done"
    assert done.id == started.id
    rows = [row async for row in close.exports.rows(done)]  # CSV: dicts by the header
    assert [row["id"] for row in rows] == ids
    assert rows[0]["note"] == "a, b"


async def test_a_failed_export_raises_with_its_id_and_status(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 0
    fake.exports.fail = True
    started = await close.exports.start("lead")
    with pytest.raises(ExportError, match="ended failed") as caught:
        await close.exports.wait(started.id or "", first_wait=0.01)
    assert caught.value.export_id == started.id
    assert caught.value.status == "failed"


async def test_wait_backs_off_and_stops_at_the_deadline(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 3600
    started = await close.exports.start("lead")
    waits: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(ExportError, match="not done within 10") as caught:
        await close.exports.wait(
            started, timeout=10, first_wait=1, max_wait=4, sleep=sleep, clock=lambda: now[0]
        )
    assert waits == [1, 2, 4, 3]  # doubling, capped, the last cut to the deadline
    assert caught.value.status in ("created", "in_progress")


async def test_a_timeout_spent_before_a_poll_is_an_export_error(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 3600
    started = await close.exports.start("lead")
    # The clock has passed the end before the first poll: no poll is sent, and the caller
    # sees one error for "not done in time", with the status it last knew.
    times = iter([0.0, 11.0])
    with pytest.raises(ExportError, match="not done within 10") as caught:
        await close.exports.wait(started, timeout=10, clock=lambda: next(times))
    assert caught.value.status == started.status
    assert caught.value.__cause__ is None


async def test_a_poll_cut_by_the_timeout_is_an_export_error(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.exports.delay = 3600
    started = await close.exports.start("lead")
    # Each poll gets what is left of the wait as its timeout: here so little that the
    # engine's whole-call timeout ends it, and the caller still sees one ExportError.
    times = iter([0.0, 10.0 - 1e-9])
    with pytest.raises(ExportError, match="not done within 10") as caught:
        await close.exports.wait(started, timeout=10, clock=lambda: next(times))
    assert type(caught.value.__cause__) is APITimeoutError  # the call's, not an attempt's


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), True])
async def test_a_bad_wait_timeout_is_refused_before_any_poll(
    close: CloseClient, timeout: float
) -> None:
    with pytest.raises(ConfigurationError, match="timeout must be"):
        await close.exports.wait("expt_1", timeout=timeout)


async def test_polls_go_through_the_engine_retries(mocked: aioresponses) -> None:
    url = re.compile(r"^https://api\.close\.com/api/v1/export/expt_1/(\?.*)?$")
    mocked.get(url, status=503, body="busy")
    mocked.get(url, payload={"id": "expt_1", "status": "done", "download_url": "https://x/f"})
    async with CloseClient(api_key=API_KEY, retry=RetryPolicy.no_wait()) as close:
        done = await close.exports.wait("expt_1", first_wait=0.01)
    assert done.download_url == "https://x/f"
    assert sum(len(calls) for calls in mocked.requests.values()) == 2


async def test_an_attempts_timeout_while_polling_is_not_the_waits_end(
    mocked: aioresponses,
) -> None:
    # Both are APITimeoutErrors now (builtins.TimeoutError); only the wait's own time running
    # out is an ExportError "not done within": a poll that got no answer stays what it was.
    url = re.compile(r"^https://api\.close\.com/api/v1/export/expt_1/(\?.*)?$")
    mocked.get(url, exception=TimeoutError())
    async with CloseClient(api_key=API_KEY, retry=RetryPolicy.no_wait(attempts=1)) as close:
        with pytest.raises(ResponseTimeoutError):
            await close.exports.wait("expt_1", timeout=30.0, first_wait=0.01)


@pytest.mark.parametrize(
    ("kind", "options", "field"),
    [
        ("contact", {}, "kind"),
        ("lead", {"format": "xml"}, "format"),
        ("opportunity", {"query": "status:won"}, "query"),  # Close would ignore it
        ("lead", {"params": {"status_type": "won"}}, "params"),
        ("lead", {"fields": "id,name"}, "fields"),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    fake: FakeClose, close: CloseClient, kind: str, options: dict[str, object], field: str
) -> None:
    with pytest.raises(ClientValidationError) as caught:
        await close.exports.start(kind, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert fake.stats.requests == 0


async def test_the_lead_body_asks_for_one_row_a_lead(fake: FakeClose, close: CloseClient) -> None:
    await close.exports.start("lead", query="status:Trial", fields=["id"])
    (sent,) = [r.body for r in fake.requests if r.path.endswith("/export/lead/")]
    assert sent == {
        "format": "json",
        "send_done_email": False,  # a program waiting for its export wants no email
        "type": "leads",
        "query": "status:Trial",
        "fields": ["id"],
    }
    await close.exports.start("opportunity", send_done_email=True)
    (asked,) = [r.body for r in fake.requests if r.path.endswith("/export/opportunity/")]
    assert asked["send_done_email"] is True
    with pytest.raises(ClientValidationError, match="send_done_email"):
        await close.exports.start("lead", send_done_email="no")  # type: ignore[arg-type]


def test_one_table_gives_the_export_and_bulk_mixins() -> None:
    api = load()
    assert [m.name for m in mixins_of(api.namespaces[("exports",)])] == ["ExportVerbs"]
    assert [m.name for m in mixins_of(api.namespaces[("leads",)])] == [
        "BulkCreate",
        "BulkDelete",
        "BulkUpdate",
    ]
    assert issubclass(ExportsResource, ExportVerbs)
    # Every needed operation must be there: a group with only one of them gets nothing.
    exports = api.namespaces[("exports",)]
    lead_only = [op for op in exports.operations if op.method == "create_lead"]
    assert mixins_of(NamespaceDef(("exports",), operations=lead_only)) == []
    get: OperationDef = next(op for op in exports.operations if op.method == "get")
    assert mixins_of(NamespaceDef(("x",), operations=[*lead_only, get])) == []
