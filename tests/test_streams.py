"""Walking a list past the fake's ``_skip`` cap by ``date_created`` windows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from close_async import (
    BadRequestError,
    ClientValidationError,
    CloseClient,
    RetryPolicy,
    SliceOptions,
)
from close_async._resources.slicer import DateSlicer
from close_async.testing import FakeClose
from tests.conftest import FAKE_KEY

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
async def capped() -> AsyncIterator[tuple[FakeClose, CloseClient]]:
    async with (
        FakeClose(api_keys=(FAKE_KEY,), strict=True, max_skip=10) as fake,
        CloseClient(FAKE_KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait()) as client,
    ):
        yield fake, client


def _seed(fake: FakeClose, minutes: list[int]) -> list[str]:
    return [
        fake.add_object("lead", date_created=(START + timedelta(minutes=m)).isoformat())["id"]
        for m in minutes
    ]


async def test_every_lead_once_past_the_skip_cap(capped: tuple[FakeClose, CloseClient]) -> None:
    fake, client = capped
    # Uneven spread: a dense hour forces repeated splits, sparse days need none.
    ids = _seed(fake, [i % 60 for i in range(90)] + [60 * 24 * d for d in range(1, 8)])
    ids += _seed(fake, [59] * 5)  # on a split's edge when halves meet at minute 59
    options = SliceOptions(start=START, end=START + timedelta(days=30), max_skip=10, page_size=7)
    walk = client.paginate("lead/", sliced=options)
    assert isinstance(walk, DateSlicer)
    got = [lead["id"] async for lead in walk]
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(ids)
    assert walk.windows_walked > 1
    # A plain walk of the same list hits the cap: the slicer is what got past it.
    with pytest.raises(BadRequestError):
        _ = [lead async for lead in client.paginate("lead/", params={"_limit": 7})]


async def test_window_bounds_and_extra_filters(capped: tuple[FakeClose, CloseClient]) -> None:
    fake, client = capped
    inside = _seed(fake, [0, 5, 9])
    _seed(fake, [10, -1])  # end is exclusive, start inclusive
    options = SliceOptions(start=START, end=START + timedelta(minutes=10), max_skip=10)
    walk = client.paginate("lead/", params={"_fields": "id"}, sliced=options)
    assert sorted([lead["id"] async for lead in walk]) == sorted(inside)


async def test_too_dense_a_window_is_an_error(capped: tuple[FakeClose, CloseClient]) -> None:
    fake, client = capped
    _seed(fake, [0] * 20)  # twenty in one instant, more than _skip 10 reaches
    options = SliceOptions(start=START, end=START + timedelta(hours=1), max_skip=10, page_size=5)
    walk = client.paginate("lead/", sliced=options)
    with pytest.raises(ClientValidationError, match="cannot be sliced further"):
        _ = [lead async for lead in walk]


async def test_arguments_are_checked_before_sending(capped: tuple[FakeClose, CloseClient]) -> None:
    fake, client = capped
    with pytest.raises(ClientValidationError, match="end must be after start"):
        client.paginate("lead/", sliced=SliceOptions(start=START, end=START, max_skip=10))
    with pytest.raises(ClientValidationError, match="max_skip"):
        client.paginate("lead/", sliced=SliceOptions(start=START, max_skip=0))
    with pytest.raises(ClientValidationError, match="sliced"):
        client.paginate("lead/", sliced="yes")  # type: ignore[arg-type]
    assert fake.stats.requests == 0
