"""update_many, create_many and delete_many on the typed resources, on loopback against
the bundled fake Close: faults, ambiguous creates, journal resume and settle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from close_async import (
    APIConnectionError,
    BadRequestError,
    BulkProgress,
    BulkResult,
    CloseClient,
    ConfigurationError,
    ConnectError,
    InDoubt,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    UnknownOutcomeError,
    settle_by_custom_field,
)
from close_async._bulk.run import _ambiguous
from close_async.models import CallCreate, Contact, Lead, LeadCreate, Opportunity
from close_async.testing import FakeClose, FakeFaults

KEY = "test_key"
CF = "cf_external_id"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,)) as server:
        yield server


def client_for(fake: FakeClose) -> CloseClient:
    return CloseClient(KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=8))


def lead_bodies(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"name": f"Lead {i}", f"custom.{CF}": f"ext-{i}"}


async def collect(run: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [result async for result in run]


def external_ids(fake: FakeClose) -> list[str]:
    return sorted(o[f"custom.{CF}"] for o in fake.objects("lead").values())


async def test_leads_create_update_delete(fake: FakeClose) -> None:
    async with client_for(fake) as close:
        bodies = [LeadCreate(name=f"Acme {i}") for i in range(25)]
        async with close.leads.create_many(bodies, concurrency=5, ordered=True) as run:
            created = await collect(run)
        assert [r.index for r in created] == list(range(25))
        assert all(r.state == "done" and r.ok for r in created)
        assert all(isinstance(r.object, Lead) for r in created)
        assert {r.id for r in created} == set(fake.objects("lead"))
        assert [r.object.name for r in created] == [f"Acme {i}" for i in range(25)]

        items = [(r.id, {"description": f"d{r.index}"}) for r in created]
        async with close.leads.update_many(items, concurrency=4) as run:
            updated = await collect(run)
        assert all(r.state == "done" for r in updated)
        stored = fake.objects("lead")
        assert {stored[r.id]["description"] for r in created} == {f"d{i}" for i in range(25)}

        doomed = [r.id for r in created[:10]]
        async with close.leads.delete_many([*doomed, "lead_missing"]) as run:
            deleted = await collect(run)
        by_id = {r.id: r for r in deleted}
        assert all(by_id[i].state == "done" for i in doomed)
        assert by_id["lead_missing"].state == "failed"
        assert by_id["lead_missing"].error
        assert len(fake.objects("lead")) == 15


async def test_contacts_and_opportunities_have_the_verbs(fake: FakeClose) -> None:
    async with client_for(fake) as close:
        lead = await close.leads.create({"name": "Parent"})
        async with close.contacts.create_many(
            {"lead_id": lead.id, "name": f"C{i}"} for i in range(6)
        ) as run:
            contacts = await collect(run)
        assert all(r.ok and isinstance(r.object, Contact) for r in contacts)
        async with close.contacts.update_many((r.id, {"title": "CTO"}) for r in contacts) as run:
            assert all(r.ok for r in await collect(run))
        assert {c["title"] for c in fake.objects("contact").values()} == {"CTO"}

        async with close.opportunities.create_many(
            [{"lead_id": lead.id, "note": f"o{i}"} for i in range(4)]
        ) as run:
            opps = await collect(run)
        assert all(r.ok and isinstance(r.object, Opportunity) for r in opps)
        async with close.opportunities.delete_many(r.id for r in opps) as run:
            assert all(r.ok for r in await collect(run))
        assert fake.objects("opportunity") == {}


async def test_a_lost_5xx_answer_leaves_a_create_unknown_and_unsent(fake: FakeClose) -> None:
    fake.faults = FakeFaults(error_rate=1.0, error_statuses=(503,), methods=("POST",))
    async with client_for(fake) as close, close.leads.create_many([{"name": "c"}]) as run:
        lost = await collect(run)
    assert [r.state for r in lost] == ["unknown"]
    assert lost[0].body == {"name": "c"}
    assert not lost[0].ok
    assert fake.stats.injected_errors == 1  # not re-sent: it might have landed


def test_which_create_errors_are_ambiguous() -> None:
    # A 4xx is Close refusing the create; a connection never opened never sent it.
    assert not _ambiguous(BadRequestError("bad", status=400))
    assert not _ambiguous(RateLimitError("slow down", status=429))
    assert not _ambiguous(ConnectError("refused"))
    assert _ambiguous(InternalServerError("oops", status=502))
    assert _ambiguous(APIConnectionError("reset after sending"))


def faulty() -> FakeFaults:
    # Only creates meet faults: 5xx and resets before applying, answers lost after applying.
    return FakeFaults(
        error_rate=0.1, reset_rate=0.1, drop_after_apply_rate=0.15, methods=("POST",), seed=3
    )


async def test_under_faults_every_ambiguous_create_is_reported(fake: FakeClose) -> None:
    fake.faults = faulty()
    async with client_for(fake) as close, close.leads.create_many(lead_bodies(60)) as run:
        results = await collect(run)
    fake.faults = None
    assert len(results) == 60
    landed = external_ids(fake)
    assert len(landed) == len(set(landed))  # never sent twice
    done = {r.body[f"custom.{CF}"] for r in results if r.state == "done"}
    unknown = [r for r in results if r.state == "unknown"]
    assert unknown, "the faults should leave some creates ambiguous"
    assert all(isinstance(r.error, UnknownOutcomeError) and r.body for r in unknown)
    assert done | {r.body[f"custom.{CF}"] for r in unknown} == {f"ext-{i}" for i in range(60)}
    # Everything that landed is either done or reported unknown: nothing lost silently.
    assert done <= set(landed) <= done | {r.body[f"custom.{CF}"] for r in unknown}
    assert fake.stats.drops > 0


async def test_under_faults_settle_ends_every_create_done_once(fake: FakeClose) -> None:
    fake.faults = faulty()
    async with client_for(fake) as close:
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        async with close.leads.create_many(lead_bodies(60), concurrency=8, settle=settle) as run:
            results = await collect(run)
    fake.faults = None
    assert {r.state for r in results} <= {"done", "settled"}
    # A create applied and then hung up on is found by settle: settled, not sent again.
    lost = [r for r in fake.requests if r.path.endswith("/lead/") and r.status == "dropped"]
    assert sum(r.state == "settled" for r in results) == len(lost) > 0
    assert external_ids(fake) == sorted(f"ext-{i}" for i in range(60))  # 0 lost, 0 twice
    stored = fake.objects("lead")
    assert all(r.id in stored for r in results)
    assert fake.stats.drops > 0


async def test_resume_reports_started_creates_unknown_and_never_resends(
    fake: FakeClose, tmp_path: Path
) -> None:
    journal = tmp_path / "leads.journal"
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0, methods=("POST",))
    async with client_for(fake) as close:
        # A crash mid-run: creates sent, answers never read (applied, then slow to answer).
        run = close.leads.create_many(
            lead_bodies(6), concurrency=3, journal=journal, stop_timeout=0.05
        )
        seen: list[BulkResult] = []

        async def consume() -> None:
            async for result in run:
                seen.append(result)

        consumer = asyncio.ensure_future(consume())
        while len(fake.objects("lead")) < 3:  # noqa: ASYNC110 - the fake has no event for it
            await asyncio.sleep(0.01)
        consumer.cancel()  # stops the run: in-flight creates never hear back
        with pytest.raises(asyncio.CancelledError):
            await consumer
    fake.faults = None
    answered = {r.body[f"custom.{CF}"] for r in seen if r.ok}
    landed_before = external_ids(fake)
    in_doubt = sorted(set(landed_before) - answered)
    assert len(in_doubt) >= 2

    async with (
        client_for(fake) as close,
        close.leads.create_many(lead_bodies(6), journal=journal, ordered=True) as run,
    ):
        results = await collect(run)
    by_ext = {r.body[f"custom.{CF}"]: r for r in results}
    assert sorted(e for e, r in by_ext.items() if r.state == "unknown") == in_doubt
    assert all(by_ext[e].skipped and by_ext[e].state == "skipped" for e in answered)
    assert all(by_ext[e].state in ("done", "skipped") for e in by_ext if e not in in_doubt)
    assert external_ids(fake) == [f"ext-{i}" for i in range(6)]  # none re-sent, none lost

    # With settle the resume finds them: every item done, nothing created twice.
    async with client_for(fake) as close:
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        async with close.leads.create_many(
            lead_bodies(6), journal=journal, ordered=True, settle=settle
        ) as run:
            settled = await collect(run)
    # Those in doubt were found (settled); the others landed in the first run (skipped).
    assert sorted(r.state for r in settled) == sorted(
        ["settled"] * len(in_doubt) + ["skipped"] * (6 - len(in_doubt))
    )
    stored = fake.objects("lead")
    assert all(stored[r.id][f"custom.{CF}"] == f"ext-{r.index}" for r in settled)
    assert external_ids(fake) == [f"ext-{i}" for i in range(6)]


async def test_input_is_pulled_lazily(fake: FakeClose) -> None:
    pulled = 0

    def bodies() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield {"name": f"L{i}"}

    async with client_for(fake) as close, close.leads.create_many(bodies(), concurrency=2) as run:
        async for result in run:
            assert result.ok
            break
    assert pulled < 50


async def test_calls_create_many_and_delete_many(fake: FakeClose) -> None:
    # The hand-written calls resource goes through the same engine as the generated ones,
    # and its results read their object as a Call.
    bodies = [CallCreate(lead_id="lead_1", note=f"logged {i}") for i in range(5)]
    bodies.append({"lead_id": "lead_1", "note": "from a mapping"})  # type: ignore[arg-type]
    async with client_for(fake) as close:
        async with close.calls.create_many(bodies, ordered=True) as run:
            created = await collect(run)
        assert [r.state for r in created] == ["done"] * 6
        ids = [r.id for r in created]
        assert all(fake.calls[i]["note"] == created[n].object.note for n, i in enumerate(ids))
        assert fake.calls[ids[5]]["note"] == "from a mapping"
        async with close.calls.delete_many([*ids[:3], "acti_missing1"], ordered=True) as run:
            deleted = await collect(run)
    assert [r.ok for r in deleted] == [True, True, True, False]
    assert set(fake.calls) == set(ids[3:])


async def test_a_4xx_on_create_fails_it_and_is_never_resent(fake: FakeClose) -> None:
    # A 400 proves the create did not land: "failed", not "unknown", and not sent again
    # even with a settler at hand.
    fake.faults = FakeFaults(reject_rate=1.0, methods=("POST",))
    asked: list[dict[str, Any]] = []

    async def settle(body: dict[str, Any]) -> None:
        asked.append(body)

    async with (
        client_for(fake) as close,
        close.leads.create_many(lead_bodies(4), settle=settle) as run,
    ):
        results = await collect(run)
    assert [r.state for r in results] == ["failed"] * 4
    assert all(isinstance(r.error, BadRequestError) for r in results)
    assert fake.stats.rejected == 4  # one send each
    assert asked == []
    assert fake.objects("lead") == {}


async def test_a_settler_that_fails_leaves_the_create_unknown(fake: FakeClose) -> None:
    # A settler's error is final (its searches already had the client's retries): the
    # create is reported unknown, never re-sent on a guess.
    fake.faults = FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))
    asked = 0

    async def settle(body: dict[str, Any]) -> str:
        nonlocal asked
        asked += 1
        raise InternalServerError("search down", status=502)

    async with (
        client_for(fake) as close,
        close.leads.create_many(lead_bodies(1), settle=settle) as run,
    ):
        results = await collect(run)
    assert [r.state for r in results] == ["unknown"]
    assert isinstance(results[0].error, UnknownOutcomeError)
    assert asked == 1
    assert fake.stats.drops == 1  # sent once


async def test_reject_faults_refuse_writes_but_never_a_search(fake: FakeClose) -> None:
    fake.faults = FakeFaults(reject_rate=1.0)
    async with client_for(fake) as close:
        with pytest.raises(BadRequestError):
            await close.post("lead/", json={"name": "refused"})
        lead_query = {"type": "object_type", "object_type": "lead"}
        page = await close.post("data/search/", json={"query": lead_query})
    assert page["data"] == []
    assert fake.stats.rejected == 1


async def test_a_create_found_absent_is_resent_within_the_retry_budget(fake: FakeClose) -> None:
    # Every send meets a 5xx (nothing applied) and settle finds nothing each time: the
    # create is sent as often as the client's fault budget allows, then fails (its outcome
    # is known: absent), never "unknown".
    fake.faults = FakeFaults(error_rate=1.0, methods=("POST",))
    asked = 0

    async def settle(body: dict[str, Any]) -> None:
        nonlocal asked
        asked += 1

    retry = RetryPolicy.no_wait(attempts=3)
    async with (
        CloseClient(KEY, base_url=fake.base_url, retry=retry) as close,
        close.leads.create_many(lead_bodies(1), settle=settle) as run,
    ):
        results = await collect(run)
    assert [r.state for r in results] == ["failed"]
    assert isinstance(results[0].error, InternalServerError)
    assert fake.stats.injected_errors == 3
    assert asked == 3
    fake.faults = None
    async with CloseClient(KEY, base_url=fake.base_url, retry=retry) as close:
        # Faults that clear within the budget end with the lead made once.
        fake.faults = FakeFaults(error_rate=0.5, methods=("POST",), seed=11)
        async with close.leads.create_many(lead_bodies(20), settle=settle) as run:
            later = await collect(run)
    fake.faults = None
    made = [r for r in later if r.state == "done"]
    assert made
    assert all(r.state in ("done", "failed") for r in later)
    assert external_ids(fake) == sorted(r.body[f"custom.{CF}"] for r in made)  # type: ignore[index]


async def test_a_settler_that_refuses_the_body_leaves_the_create_unknown(
    fake: FakeClose,
) -> None:
    fake.faults = FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))
    async with client_for(fake) as close:
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        async with close.leads.create_many([{"name": "no external id"}], settle=settle) as run:
            results = await collect(run)
    assert [r.state for r in results] == ["unknown"]
    assert fake.stats.requests == 1  # refused before any search, and not re-sent


def test_bulk_options_are_checked_by_name() -> None:
    close = CloseClient(KEY, base_url="http://127.0.0.1:9")
    # A bad option is a ConfigurationError (issue 28), a ValueError like every bad option.
    with pytest.raises(ConfigurationError, match="concurency"):
        close.leads.update_many([], concurency=4)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="concurrency"):
        close.leads.delete_many([], concurrency=0)


async def test_a_body_in_doubt_is_settled_before_it_is_sent(fake: FakeClose) -> None:
    # An earlier run's unknown creates, fed back: never sent on a guess.
    fake.add_object("lead", name="Lead 0", **{f"custom.{CF}": "ext-0"})
    bodies = list(lead_bodies(2))
    async with client_for(fake) as close:
        async with close.leads.create_many([InDoubt(b) for b in bodies], ordered=True) as run:
            unsettled = await collect(run)
        assert [r.state for r in unsettled] == ["unknown", "unknown"]
        assert fake.stats.requests == 0
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        in_doubt = [InDoubt(b) for b in bodies]
        async with close.leads.create_many(in_doubt, settle=settle, ordered=True) as run:
            settled = await collect(run)
    assert [r.state for r in settled] == ["settled", "done"]
    assert external_ids(fake) == ["ext-0", "ext-1"]  # the existing one found, not made twice
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/lead/")]
    assert len(creates) == 1


async def test_a_create_found_by_settle_is_settled_not_done(fake: FakeClose) -> None:
    # Two bodies in doubt, one of them already in Close: the one found is "settled" (ok,
    # its id, never sent), the absent one is sent and "done"; the progress counts them apart.
    existing = fake.add_object("lead", name="Lead 0", **{f"custom.{CF}": "ext-0"})
    seen: list[BulkProgress] = []
    async with client_for(fake) as close:
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        in_doubt = [InDoubt(b) for b in lead_bodies(2)]
        async with close.leads.create_many(
            in_doubt, settle=settle, ordered=True, on_progress=seen.append
        ) as run:
            results = await collect(run)
    assert [r.state for r in results] == ["settled", "done"]
    assert [r.ok for r in results] == [True, True]
    assert [r.settled for r in results] == [True, False]
    assert results[0].id == existing["id"]
    assert results[0].error is None
    final = seen[-1]
    assert (final.succeeded, final.settled, final.failed, final.done) == (1, 1, 0, 2)
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/lead/")]
    assert len(creates) == final.succeeded == 1  # settled: not sent


async def test_a_settle_search_whose_answer_is_lost_is_sent_again(fake: FakeClose) -> None:
    # The settle search is a read (POST data/search/): a dropped answer is retried by the
    # client's one retry policy, like a GET, and the create settles.
    for i in range(10):
        fake.add_object("lead", name=f"Lead {i}", **{f"custom.{CF}": f"ext-{i}"})
    fake.faults = FakeFaults(drop_after_apply_rate=0.5, methods=("POST",), seed=2)
    async with client_for(fake) as close:
        settle = settle_by_custom_field(close, resource="lead", field=CF)
        in_doubt = [InDoubt(b) for b in lead_bodies(10)]
        async with close.leads.create_many(in_doubt, settle=settle, concurrency=1) as run:
            results = await collect(run)
    fake.faults = None
    searches = [r for r in fake.requests if r.path.endswith("/data/search/")]
    dropped = [r for r in searches if r.status == "dropped"]
    assert dropped  # some answers were lost ...
    assert [r.state for r in results] == ["settled"] * 10  # ... and every search went again
    assert len(searches) == 10 + len(dropped)
    assert len(fake.objects("lead")) == 10
