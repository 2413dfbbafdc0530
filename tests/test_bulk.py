"""update_many end to end: real HTTP on loopback against the bundled fake Close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from close_async import (
    BulkAbortedError,
    BulkInterruptedError,
    BulkProgress,
    BulkResult,
    ClientValidationError,
    CloseClient,
    NotFoundError,
    RetryPolicy,
)
from close_async.models import Call, CallUpdate
from close_async.testing import FakeClose, FakeFaults, FakeRateLimit

KEY = "test_key"


def updates(ids: list[str], tag: str = "n") -> Iterator[tuple[str, CallUpdate]]:
    for i, call_id in enumerate(ids):
        yield call_id, CallUpdate(note=f"{tag}-{i}", outcome_id=f"outcome_{i % 7}")


async def collect(run: AsyncIterator[BulkResult[Call]]) -> list[BulkResult[Call]]:
    return [result async for result in run]


async def drain_into(seen: list[BulkResult[Call]], run: AsyncIterator[BulkResult[Call]]) -> None:
    """Consume ``run``, keeping what it yielded even when it ends with an error."""
    async for result in run:
        seen.append(result)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), forbidden_keys=("forbidden_key",), strict=True) as server:
        yield server


def client_for(fake: FakeClose, key: str = KEY, **kwargs: object) -> CloseClient:
    kwargs.setdefault("retry", RetryPolicy.no_wait(attempts=8))
    return CloseClient(key, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


async def test_every_update_lands_despite_faults(fake: FakeClose) -> None:
    fake.faults = FakeFaults(
        error_rate=0.05,
        reset_rate=0.03,
        drop_after_apply_rate=0.03,
        slow_rate=0.02,
        slow_seconds=0.05,
        seed=7,
    )
    ids = fake.seed_calls(300)
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(updates(ids), concurrency=16))
        retried = close.stats.total_retries
    assert sorted(r.index for r in results) == list(range(300))
    assert all(r.ok and r.error is None for r in results), [r.error for r in results if not r.ok]
    for i, call_id in enumerate(ids):
        assert fake.calls[call_id]["note"] == f"n-{i}"
        assert fake.calls[call_id]["outcome_id"] == f"outcome_{i % 7}"
    assert retried > 0  # the faults really happened, and were retried
    assert fake.stats.drops > 0
    assert fake.stats.resets > 0
    assert fake.stats.injected_errors > 0


async def test_updates_land_under_the_servers_rate_limit(fake: FakeClose) -> None:
    fake.rate_limit = FakeRateLimit(rate=50, window=0.2)
    ids = fake.seed_calls(120)
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(updates(ids), concurrency=32))
        throttled = close.stats.rate_limited
        sent = close.stats.requests
    assert all(r.ok for r in results)
    assert throttled / sent < 0.05
    assert all(fake.calls[i]["note"] is not None for i in ids)


async def test_ordered_results_follow_the_input(fake: FakeClose) -> None:
    fake.faults = FakeFaults(slow_rate=0.3, slow_seconds=0.02, seed=1)
    ids = fake.seed_calls(60)
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(updates(ids), concurrency=8, ordered=True))
    assert [r.index for r in results] == list(range(60))
    assert [r.id for r in results] == ids


async def test_a_bad_id_is_refused_by_the_operations_own_rule_naming_the_item(
    fake: FakeClose,
) -> None:
    # The id is checked once, by the call endpoint's rule as the request is built: the
    # refusal is that rule's (field "call_id"), names the item, and nothing is sent.
    ids = fake.seed_calls(1)
    items = [(ids[0], CallUpdate(note="a")), ("lead_notacall", CallUpdate(note="b"))]
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(items, ordered=True))
        sent = close.stats.requests
    assert [r.ok for r in results] == [True, False]
    error = results[1].error
    assert isinstance(error, ClientValidationError)
    assert error.field == "call_id"
    assert str(error).startswith("item 1: call_id must be 'acti_'")
    assert sent == 1


async def test_item_failures_are_results_and_the_batch_goes_on(fake: FakeClose) -> None:
    ids = fake.seed_calls(4)
    internal = fake.add_call(source="Close.io")["id"]
    items: list[object] = [
        (ids[0], CallUpdate(note="a")),
        ("acti_doesnotexist1", CallUpdate(note="b")),  # 404
        ("../../lead_x", CallUpdate(note="c")),  # refused before sending
        (internal, CallUpdate(duration=5)),  # Close refuses: internal call (400)
        ("not-a-pair",),
        (ids[1], 42),  # neither a CallUpdate nor a mapping
        (ids[2], CallUpdate(note="d")),
        (ids[3], {"note": "a mapping, sent as it is"}),
    ]
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(items, ordered=True))  # type: ignore[arg-type]
    ok = [r.ok for r in results]
    assert ok == [True, False, False, False, False, False, True, True]
    assert isinstance(results[1].error, NotFoundError)
    assert isinstance(results[2].error, ClientValidationError)
    assert results[3].error is not None
    assert getattr(results[3].error, "status", None) == 400
    assert isinstance(results[4].error, ClientValidationError)
    assert isinstance(results[5].error, ClientValidationError)
    assert fake.calls[ids[2]]["note"] == "d"
    assert fake.calls[ids[3]]["note"] == "a mapping, sent as it is"
    assert results[7].object is not None
    assert results[7].object.id == ids[3]


async def test_a_wrong_key_aborts_the_batch_and_says_what_was_not_attempted(
    fake: FakeClose,
) -> None:
    ids = fake.seed_calls(200)
    pulled = 0

    def source() -> Iterator[tuple[str, CallUpdate]]:
        nonlocal pulled
        for item in updates(ids):
            pulled += 1
            yield item

    seen: list[BulkResult[Call]] = []
    async with client_for(fake, key="forbidden_key") as close:
        with pytest.raises(BulkAbortedError) as info:
            await drain_into(seen, close.calls.update_many(source(), concurrency=4))
    assert info.value.cause.status == 403  # type: ignore[attr-defined]
    assert pulled < 50  # stopped pulling: the rest was never attempted
    assert all(not r.ok for r in seen)
    assert all(fake.update_counts.get(i, 0) == 0 for i in ids)


async def test_journal_skips_what_landed_in_an_earlier_run(fake: FakeClose, tmp_path: Path) -> None:
    ids = fake.seed_calls(100)
    journal = tmp_path / "run.journal"
    all_items = list(updates(ids))
    async with client_for(fake) as close:
        first = await collect(close.calls.update_many(all_items[:60], journal=journal))
    assert all(r.ok and not r.skipped for r in first)
    puts_before = dict(fake.update_counts)
    async with client_for(fake) as close:
        second = await collect(close.calls.update_many(all_items, journal=str(journal)))
    skipped = sorted(r.index for r in second if r.skipped)
    assert skipped == list(range(60))
    assert all(r.ok for r in second)
    # One state an item: landed in an earlier run is "skipped", landed now is "done".
    assert [r.state for r in sorted(second, key=lambda r: r.index)] == ["skipped"] * 60 + [
        "done"
    ] * 40
    # The first 60 were not sent again; the other 40 were sent once.
    for i, call_id in enumerate(ids):
        expected = puts_before.get(call_id, 0) + (0 if i < 60 else 1)
        assert fake.update_counts.get(call_id, 0) == expected


async def test_journal_resends_a_changed_update(fake: FakeClose, tmp_path: Path) -> None:
    (call_id,) = fake.seed_calls(1)
    journal = tmp_path / "j"
    async with client_for(fake) as close:
        await collect(close.calls.update_many([(call_id, CallUpdate(note="v1"))], journal=journal))
        again = await collect(
            close.calls.update_many([(call_id, CallUpdate(note="v2"))], journal=journal)
        )
    assert not again[0].skipped
    assert fake.calls[call_id]["note"] == "v2"


async def test_stop_finishes_in_flight_and_stops_pulling(fake: FakeClose) -> None:
    fake.faults = FakeFaults(latency=0.01)
    ids = fake.seed_calls(400)
    async with client_for(fake) as close:
        run = close.calls.update_many(updates(ids), concurrency=8)
        results = []
        async for result in run:
            results.append(result)
            if len(results) == 20:
                run.stop()
        progress = run.progress
    assert 20 <= len(results) < 400
    assert all(r.ok for r in results)
    assert progress.pulled == len(results)
    assert progress.in_flight == 0
    landed = sum(1 for i in ids if fake.update_counts.get(i))
    assert landed == len(results)  # nothing landed that was not reported


async def test_stop_timeout_reports_unfinished_updates_as_interrupted(fake: FakeClose) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=5.0)
    ids = fake.seed_calls(10)
    async with client_for(fake) as close:
        run = close.calls.update_many(updates(ids), concurrency=4, stop_timeout=0.1)
        consumer = asyncio.ensure_future(collect(run))
        await asyncio.sleep(0.1)
        run.stop()
        results = await asyncio.wait_for(consumer, 3)
    assert len(results) == 4
    assert all(isinstance(r.error, BulkInterruptedError) for r in results)


async def test_cancelling_the_consumer_leaves_no_task_behind(
    fake: FakeClose, tmp_path: Path
) -> None:
    fake.faults = FakeFaults(latency=0.02)
    ids = fake.seed_calls(200)
    journal = tmp_path / "j"
    async with client_for(fake) as close:
        consumer = asyncio.ensure_future(
            collect(close.calls.update_many(updates(ids), concurrency=8, journal=journal))
        )
        await asyncio.sleep(0.15)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("close-async")]
        assert leftovers == []
    # Whatever landed was journaled: a rerun sends only the rest.
    async with client_for(fake) as close:
        rerun = await collect(close.calls.update_many(updates(ids), journal=journal))
    assert all(r.ok for r in rerun)
    assert all(fake.update_counts[i] == 1 for i in ids)


async def test_input_is_pulled_lazily(fake: FakeClose) -> None:
    ids = fake.seed_calls(500)
    pulled = 0

    async def source() -> AsyncIterator[tuple[str, CallUpdate]]:
        nonlocal pulled
        for item in updates(ids):
            pulled += 1
            yield item

    async with client_for(fake) as close:
        run = close.calls.update_many(source(), concurrency=4)
        first = await run.__anext__()
        await asyncio.sleep(0.1)  # let the workers run ahead as far as they can
        assert first.ok
        assert pulled <= 4 + 4 + 2  # workers + result queue + the ones being put
        rest = await collect(run)
    assert len(rest) == 499


async def test_progress_counts(fake: FakeClose, tmp_path: Path) -> None:
    ids = fake.seed_calls(30)
    snapshots: list[BulkProgress] = []
    items = [*updates(ids), ("acti_missing", CallUpdate(note="x"))]
    async with client_for(fake) as close:
        run = close.calls.update_many(items, on_progress=snapshots.append)
        await collect(run)
        final = run.progress
    assert len(snapshots) == 31
    assert (final.succeeded, final.failed, final.skipped, final.pulled) == (30, 1, 0, 31)
    assert final.done == 31
    assert final.rate > 0


async def test_a_failing_input_ends_the_batch_with_its_error(fake: FakeClose) -> None:
    ids = fake.seed_calls(5)

    def source() -> Iterator[tuple[str, CallUpdate]]:
        yield from updates(ids)
        raise ValueError("line 6: broken input")

    async with client_for(fake) as close:
        seen: list[BulkResult[Call]] = []
        with pytest.raises(ValueError, match="line 6"):
            await drain_into(seen, close.calls.update_many(source()))
    assert len(seen) == 5


async def test_updates_to_one_call_apply_in_input_order(fake: FakeClose) -> None:
    fake.faults = FakeFaults(slow_rate=0.5, slow_seconds=0.03, seed=3)
    ids = fake.seed_calls(3)
    items = [(ids[i % 3], CallUpdate(note=f"v{i}")) for i in range(30)]
    async with client_for(fake) as close:
        results = await collect(close.calls.update_many(items, concurrency=16))
    assert all(r.ok for r in results)
    for k in range(3):
        assert fake.calls[ids[k]]["note"] == f"v{27 + k}"
