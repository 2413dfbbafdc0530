"""``sliced=`` on the typed lists: past the fake's ``_skip`` cap, each object once."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from close_async import (
    BadRequestError,
    ClientValidationError,
    CloseClient,
    Page,
    RetryPolicy,
    SliceOptions,
)
from close_async._resources.generated.leads import LeadsResource
from close_async._resources.generated.opportunities import OpportunitiesResource
from close_async._resources.slicer import DateSlicer
from close_async.models import Note, Opportunity
from close_async.testing import FakeClose
from tests.conftest import FAKE_KEY

START = datetime(2024, 1, 1, tzinfo=UTC)
CAP = 10


@pytest.fixture
async def capped() -> AsyncIterator[tuple[FakeClose, CloseClient]]:
    async with (
        FakeClose(api_keys=(FAKE_KEY,), strict=True, max_skip=CAP) as fake,
        CloseClient(FAKE_KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait()) as client,
    ):
        yield fake, client


def _seed(fake: FakeClose, kind: str, minutes: list[int], **fields: Any) -> list[str]:
    return [
        fake.add_object(kind, date_created=(START + timedelta(minutes=m)).isoformat(), **fields)[
            "id"
        ]
        for m in minutes
    ]


async def test_a_plain_list_stops_at_the_cap_and_a_sliced_one_gets_every_object_once(
    capped: tuple[FakeClose, CloseClient],
) -> None:
    fake, client = capped
    # A dense hour (forcing splits) and sparse days; five on one minute, on a split's edge.
    ids = _seed(fake, "opportunity", [i % 60 for i in range(60)] + [1440 * d for d in (1, 3, 9)])
    ids += _seed(fake, "opportunity", [59] * 5)
    # _skip 0 and 7 answer; the plain walk then asks _skip 14, past the cap, and is refused.
    pages = client.opportunities.list(page_size=7).pages()
    assert [len((await anext(pages)).data) for _ in range(2)] == [7, 7]
    with pytest.raises(BadRequestError):
        await anext(pages)
    walk = client.opportunities.list(
        page_size=7,
        sliced=SliceOptions(start=START, end=START + timedelta(days=30), max_skip=CAP),
    )
    assert isinstance(walk, DateSlicer)
    got = [o async for o in walk]
    assert all(isinstance(o, Opportunity) for o in got)
    got_ids = [o.id for o in got]
    assert len(got_ids) == len(set(got_ids))
    assert sorted(got_ids) == sorted(ids)
    assert walk.windows_walked > 1
    sent = [r.query for r in fake.requests if r.path.endswith("/opportunity/")][3:]
    # The list's limit is the page size; a window whose first page has more is probed once
    # with one object at _skip=max_skip, to split it before walking into the cap.
    probes = [q for q in sent if "_limit=1&" in q]
    assert probes
    assert all(f"_skip={CAP}" in q for q in probes)
    assert all("_limit=7&" in q for q in sent if q not in probes)


async def test_the_lists_own_filters_bound_and_narrow_the_walk(
    capped: tuple[FakeClose, CloseClient],
) -> None:
    fake, client = capped
    inside = _seed(fake, "activity.note", list(range(0, 30, 2)), lead_id="lead_a")
    _seed(fake, "activity.note", [1, 3], lead_id="lead_b")  # inside the range, another lead
    _seed(fake, "activity.note", [30, -1], lead_id="lead_a")  # __lt is exclusive, __gte inclusive
    notes = client.activities.notes.list(
        lead_id="lead_a",
        date_created__gte=START,
        date_created__lt="2024-01-01T00:30:00Z",
        sliced=SliceOptions(max_skip=CAP, page_size=4),
    )
    got = [note async for note in notes]
    assert all(isinstance(note, Note) for note in got)
    assert sorted(note.id for note in got if note.id) == sorted(inside)


async def test_sliced_true_walks_from_2000_to_now(fake: FakeClose, close: CloseClient) -> None:
    ids = _seed(fake, "task", [0, 60, 600], lead_id="lead_a", text="call back")
    ids.append(fake.add_object("task", lead_id="lead_a", text="now")["id"])  # before the walk
    got = [task.id or "" async for task in close.tasks.list(sliced=True)]
    assert sorted(got) == sorted(ids)
    sent = [r.query for r in fake.requests if r.path.endswith("/task/")]
    assert sent[0].startswith("date_created__gte=2000-01-01T00:00:00Z&date_created__lt=")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"date_created__gt": START}, "date_created__gt"),
        ({"date_created": START}, "date_created"),
        ({"skip": 10}, "_skip"),
        ({"date_created__gte": START, "sliced": SliceOptions(start=START)}, "date_created__gte"),
        ({"page_size": 5, "sliced": SliceOptions(page_size=5)}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"limit": 0}, "limit"),
        ({"date_created__lt": "yesterday"}, "date_created__lt"),
        ({"date_created__gte": START, "date_created__lt": START}, "end"),
        ({"sliced": "yes"}, "sliced"),
    ],
)
async def test_bad_slices_are_refused_before_sending(
    fake: FakeClose, close: CloseClient, options: dict[str, Any], field: str
) -> None:
    options = {"sliced": True, **options}
    with pytest.raises(ClientValidationError) as caught:
        close.opportunities.list(**options)
    assert caught.value.field == field
    assert fake.stats.requests == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_skip": 0}, "max_skip"),
        ({"page_size": True}, "page_size"),
        ({"start": START, "end": START}, "end"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_slice_options_are_checked_when_built(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ClientValidationError) as caught:
        SliceOptions(**options)
    assert caught.value.field == field


def test_only_lists_with_date_created_ranges_take_sliced() -> None:
    assert "sliced" in inspect.signature(OpportunitiesResource.list).parameters
    # Close's document gives the lead list no date_created filters: nothing to slice by.
    assert "sliced" not in inspect.signature(LeadsResource.list).parameters


async def test_a_window_that_grows_past_the_cap_mid_walk_is_split_then(
    capped: tuple[FakeClose, CloseClient],
) -> None:
    fake, client = capped
    ids = _seed(fake, "opportunity", list(range(9)))  # fits: the probe at _skip=10 is empty
    window = SliceOptions(start=START, end=START + timedelta(hours=1), max_skip=CAP)
    walk = client.opportunities.list(page_size=4, sliced=window)
    got = [opp.id async for opp in _take(walk, 4)]
    _seed(fake, "opportunity", [30] * 6)  # now 15: the walk reaches _skip 12, past the cap
    got += [opp.id async for opp in walk]
    assert len(got) == len(set(got))
    assert set(ids) <= set(got)
    assert walk.windows_walked > 1


async def _take(walk: DateSlicer[Opportunity], n: int) -> AsyncIterator[Opportunity]:
    for _ in range(n):
        yield await anext(walk)


async def test_a_failed_probe_loses_no_object_when_asked_again() -> None:
    objects = [{"id": f"o{i}", "date_created": START + timedelta(minutes=i)} for i in range(30)]
    probes_failed = []

    async def fetch(params: dict[str, Any]) -> Page:
        low = datetime.fromisoformat(params["date_created__gte"])
        high = datetime.fromisoformat(params["date_created__lt"])
        skip, limit = params["_skip"], params["_limit"]
        if limit == 1 and not probes_failed:
            probes_failed.append(params)
            raise ConnectionError("the probe's connection dropped")
        inside = [o for o in objects if low <= o["date_created"] < high]
        data = inside[skip : skip + limit]
        return Page(data, skip + limit < len(inside))

    walk: DateSlicer[Any] = DateSlicer(
        fetch, SliceOptions(start=START, end=START + timedelta(hours=1), max_skip=10, page_size=5)
    )
    with pytest.raises(ConnectionError):
        await anext(walk)
    got = [item["id"] async for item in walk]
    assert sorted(got) == sorted(o["id"] for o in objects)
    assert len(got) == len(set(got))


async def test_calls_list_slices_past_the_cap_too(capped: tuple[FakeClose, CloseClient]) -> None:
    # close.calls is hand-written; its list takes the same sliced= walk.
    fake, client = capped
    ids = [
        fake.add_call(date_created=(START + timedelta(minutes=m % 30)).isoformat())["id"]
        for m in range(35)
    ]
    pages = client.calls.list(page_size=7).pages()
    assert [len((await anext(pages)).data) for _ in range(2)] == [7, 7]
    with pytest.raises(BadRequestError):
        await anext(pages)
    capped_walk = SliceOptions(max_skip=CAP)
    sliced = [c.id async for c in client.calls.list(page_size=7, sliced=capped_walk)]
    assert sorted(sliced) == sorted(ids)
    options = SliceOptions(start=START, max_skip=CAP, page_size=5)
    assert sorted([c.id async for c in client.calls.list(sliced=options)]) == sorted(ids)
    with pytest.raises(ClientValidationError, match="_skip"):
        client.calls.list(skip=5, sliced=True)
