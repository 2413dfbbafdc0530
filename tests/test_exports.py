"""Exports against the fake Close: start, wait with backoff, stream gzip JSON and CSV rows."""

from __future__ import annotations

from typing import Any

import pytest

from close_async import CloseClient, ExportError
from close_async._resources.export_stream import _csv_rows, _json_rows
from close_async.testing import FakeClose


async def test_lead_export_streams_json_rows(fake: FakeClose, close: CloseClient) -> None:
    fake.exports.delay = 0.05
    ids = fake.seed_objects("lead", 25)
    rows = [row async for row in close.exports.stream("lead", first_wait=0.01)]
    assert [row["id"] for row in rows] == ids


async def test_opportunity_export_streams_csv_rows(fake: FakeClose, close: CloseClient) -> None:
    fake.exports.delay = 0.05
    ids = fake.seed_objects("opportunity", 4, note='a "quoted"\nnote, two lines')
    rows = [r async for r in close.exports.stream("opportunity", format="csv", first_wait=0.01)]
    assert [row["id"] for row in rows] == ids
    assert rows[0]["note"] == 'a "quoted"\nnote, two lines'


async def test_wait_backs_off_and_stops_at_the_timeout(fake: FakeClose, close: CloseClient) -> None:
    fake.exports.delay = 3600
    started = await close.exports.start("lead")
    waits: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(ExportError, match="not done within 10") as caught:
        await close.exports.wait(
            started.id,
            timeout=10,
            first_wait=1,
            max_wait=4,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert waits == [1, 2, 4, 3]  # doubling, capped, the last cut to the timeout
    assert caught.value.status in ("created", "in_progress")


async def test_failed_export_raises(fake: FakeClose, close: CloseClient) -> None:
    fake.exports.delay = 0
    fake.exports.fail = True
    with pytest.raises(ExportError, match="ended failed"):
        _ = [row async for row in close.exports.stream("lead", first_wait=0.01)]


async def _chunks_of(data: bytes, size: int) -> Any:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_rows_are_parsed_across_any_chunk_boundary() -> None:
    payload = '[{"id": "a", "n": "é"}, {"id": "b", "x": [1, {"y": "]"}]}]'.encode()
    table = b'id,note\r\na,"one\r\ntwo ""q"""\r\nb,plain\r\n'
    for size in (1, 2, 3, 7, 1000):
        assert [r async for r in _json_rows(_chunks_of(payload, size))] == [
            {"id": "a", "n": "é"},
            {"id": "b", "x": [1, {"y": "]"}]},
        ]
        assert [r async for r in _csv_rows(_chunks_of(table, size))] == [
            {"id": "a", "note": 'one\r\ntwo "q"'},
            {"id": "b", "note": "plain"},
        ]


async def test_a_csv_files_last_record_without_a_newline_is_a_row_too() -> None:
    # The records left in the buffer at the end are read by the same rule as the others.
    table = b'\xef\xbb\xbfid,note\r\na,"x\r\ny"\r\nb,last'
    for size in (1, 4, 1000):
        assert [r async for r in _csv_rows(_chunks_of(table, size))] == [
            {"id": "a", "note": "x\r\ny"},
            {"id": "b", "note": "last"},
        ]
    assert [r async for r in _csv_rows(_chunks_of(b"id,note", 3))] == []
