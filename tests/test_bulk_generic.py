"""The one bulk engine, whatever the resource: generic results parsed on first read, the
journal keyed by object id or create fingerprint, and messages that name the verb."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from close_async import (
    APIResponseValidationError,
    BulkInterruptedError,
    BulkResult,
    BulkRun,
    CloseClient,
    InDoubt,
    RetryPolicy,
)
from close_async._bulk.journal import Journal
from close_async._engine.http.request import Request
from close_async._resources.generated.leads import LeadsResource
from close_async.models import Call, CallUpdate, Lead
from close_async.testing import FakeClose

KEY = "test_key"

# The table of landed items as the first journal files wrote it (before "object_id").
OLD_LANDED_TABLE = (
    "CREATE TABLE IF NOT EXISTS landed ("
    " key TEXT PRIMARY KEY, call_id TEXT NOT NULL, landed_at REAL NOT NULL)"
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,)) as server:
        yield server


def client_for(fake: FakeClose) -> CloseClient:
    return CloseClient(KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=3))


async def collect(run: AsyncIterator[BulkResult[Any]]) -> list[BulkResult[Any]]:
    return [result async for result in run]


class _Borrowed:
    """A requester that answers from a script (or never): the client's counters and options
    are borrowed, the sending is not."""

    def __init__(self, close: CloseClient, answer: Any = None, *, hang: bool = False) -> None:
        self._close = close
        self._answer = answer
        self._hang = hang
        self.sent: list[Request] = []

    @property
    def stats(self) -> Any:
        return self._close.stats

    @property
    def options(self) -> Any:
        return self._close.leads._requester.options

    @property
    def telemetry(self) -> None:
        return None

    async def request(self, request: Request, **_: Any) -> Any:
        self.sent.append(request)
        if self._hang:
            await asyncio.Event().wait()  # the answer never comes: cancelled by stop()
        return self._answer


# -- messages name the verb ------------------------------------------------------------


@pytest.mark.parametrize("verb", ["update", "create", "delete"])
async def test_an_interrupted_item_says_which_verb_was_cut_short(verb: str) -> None:
    close = CloseClient(KEY, base_url="http://127.0.0.1:9")
    requester = _Borrowed(close, hang=True)
    resource = LeadsResource(requester)  # type: ignore[arg-type]
    run: BulkRun[Any]

    def items() -> Iterator[int]:
        yield 0
        yield 1
        run.stop()  # the third pull: two items are in flight, their answers never come

    # stop_timeout=0: the items in flight are cancelled at once.
    if verb == "update":
        run = resource.update_many(((f"lead_{i}", {"name": "x"}) for i in items()), stop_timeout=0)
    elif verb == "create":
        run = resource.create_many(({"name": f"L{i}"} for i in items()), stop_timeout=0)
    else:
        run = resource.delete_many((f"lead_{i}" for i in items()), stop_timeout=0)
    async with run:
        results = await collect(run)
    assert [r.state for r in results] == ["interrupted", "interrupted"]
    assert len(requester.sent) == 2
    for result in results:
        assert isinstance(result.error, BulkInterruptedError)
        assert str(result.error) == f"the batch stopped before Close answered this {verb}"


@pytest.mark.parametrize("verb", ["update", "create", "delete"])
async def test_a_failing_input_is_logged_with_its_verb(
    fake: FakeClose, verb: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="close_async.bulk")
    ids = [fake.add_object("lead", name=f"L{i}")["id"] for i in range(2)]

    def items() -> Iterator[Any]:
        for lead_id in ids:
            if verb == "update":
                yield lead_id, {"description": "d"}
            elif verb == "create":
                yield {"name": lead_id}
            else:
                yield lead_id
        raise ValueError("line 3: broken input")

    async with client_for(fake) as close:
        runs = {
            "update": close.leads.update_many,
            "create": close.leads.create_many,
            "delete": close.leads.delete_many,
        }
        with pytest.raises(ValueError, match="line 3"):
            await collect(runs[verb](items()))
    [record] = [r for r in caplog.records if r.name == "close_async.bulk"]
    assert record.getMessage().startswith(f"{verb}_many input failed after 2 items")


# -- the answer, parsed on first read ------------------------------------------------------


async def test_a_run_that_never_reads_object_decodes_no_model(
    fake: FakeClose, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[Any] = []
    original = Lead.from_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Lead], payload: Any) -> Lead:
        decoded.append(payload)
        lead: Lead = original(cls, payload)
        return lead

    monkeypatch.setattr(Lead, "from_json", classmethod(counting))
    async with client_for(fake) as close:
        async with close.leads.create_many([{"name": f"L{i}"} for i in range(5)]) as run:
            created = await collect(run)
        async with close.leads.update_many((r.id, {"description": "d"}) for r in created) as run:
            updated = await collect(run)
    assert [r.state for r in created + updated] == ["done"] * 10
    assert decoded == []  # nothing read, nothing decoded
    first = updated[0].object
    assert isinstance(first, Lead)
    assert first.description == "d"
    assert updated[0].object is first  # cached: decoded once
    assert len(decoded) == 1


async def test_an_answer_that_is_not_the_model_raises_when_read() -> None:
    close = CloseClient(KEY, base_url="http://127.0.0.1:9")
    resource = LeadsResource(_Borrowed(close, answer=["not", "a", "lead"]))  # type: ignore[arg-type]
    async with resource.update_many([("lead_1", {"name": "x"})]) as run:
        [result] = await collect(run)
    assert result.state == "done"  # it landed; only the answer is unreadable
    assert result.ok
    with pytest.raises(APIResponseValidationError):
        _ = result.object


async def test_calls_results_are_generic_results_of_calls(fake: FakeClose) -> None:
    ids = fake.seed_calls(3)
    async with client_for(fake) as close:
        items = [(call_id, CallUpdate(note=f"n{i}")) for i, call_id in enumerate(ids)]
        async with close.calls.update_many(items, ordered=True) as run:
            results = await collect(run)
    assert [type(r) for r in results] == [BulkResult] * 3
    assert [r.id for r in results] == ids
    assert all(isinstance(r.object, Call) for r in results)
    assert [r.object.note for r in results] == ["n0", "n1", "n2"]


async def test_a_create_settled_from_a_found_mapping_reads_as_the_model(
    fake: FakeClose,
) -> None:
    existing = fake.add_object("lead", name="Found")

    async def settle(body: dict[str, Any]) -> dict[str, Any]:
        return dict(existing)

    async with (
        client_for(fake) as close,
        close.leads.create_many([InDoubt({"name": "Found"})], settle=settle) as run,
    ):
        [result] = await collect(run)
    assert result.state == "settled"
    assert result.id == existing["id"]
    assert isinstance(result.object, Lead)
    assert result.object.name == "Found"


# -- the journal, whatever the resource -------------------------------------------------


def test_the_journal_keys_landed_items_by_object_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.record(Journal.key("lead_1", {"name": "x"}), "lead_1")
    journal.close()
    with sqlite3.connect(tmp_path / "j") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(landed)")]
    assert columns == ["key", "object_id", "landed_at"]


async def test_a_journal_from_the_old_schema_is_read_on_resume(
    fake: FakeClose, tmp_path: Path
) -> None:
    ids = fake.seed_calls(4)
    items = [(call_id, {"note": f"n{i}"}) for i, call_id in enumerate(ids)]
    path = tmp_path / "old.journal"
    with sqlite3.connect(path) as db:
        # Made by the version before: two of the four updates landed then.
        db.execute(OLD_LANDED_TABLE)
        for call_id, update in items[:2]:
            key = Journal.key(call_id, update)
            db.execute("INSERT INTO landed VALUES (?, ?, ?)", (key, call_id, 0.0))
    db.close()
    async with client_for(fake) as close:
        async with close.calls.update_many(items, journal=path, ordered=True) as run:
            results = await collect(run)
        assert [r.state for r in results] == ["skipped", "skipped", "done", "done"]
        assert [r.id for r in results] == ids
        assert all(fake.update_counts.get(i, 0) == 0 for i in ids[:2])
        async with close.calls.update_many(items, journal=path) as run:
            again = await collect(run)
    assert sorted(r.state for r in again) == ["skipped"] * 4
    journal = Journal(path)
    assert journal.count() == 4
    journal.close()
