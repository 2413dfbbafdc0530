"""A user's program, type-checked by ``mypy --strict`` in the test suite (not run)."""

from __future__ import annotations

from typing import Any

from close_async import (
    UNSET,
    BulkResult,
    Call,
    CallUpdate,
    CloseClient,
    CloseClientView,
    CloseError,
    LocalRateLimiter,
    OAuthError,
    OAuthRefresher,
    OAuthTokens,
    Page,
    Pager,
    Response,
    RetryEvent,
    RetryPolicy,
    Timeout,
    exchange_code,
)


def log_retry(event: RetryEvent) -> None:
    print(event.reason, event.attempt, event.wait)


async def handler(close: CloseClient, call_id: str, note: str | None) -> Call | None:
    update = CallUpdate(note_html=note if note is not None else UNSET, outcome_id=None)
    try:
        return await close.calls.update(call_id, update, deadline=2.0)
    except CloseError:
        return None


async def backfill(rows: list[tuple[str, str]]) -> int:
    failed = 0
    async with CloseClient(
        api_key="api_x",
        timeout=Timeout(connect=5, read=20, deadline=None),
        retry=RetryPolicy(attempts=6),
        rate_limiter=LocalRateLimiter(rate=15),
        on_retry=log_retry,
        telemetry=True,
    ) as close:
        items = ((call_id, CallUpdate(note=note)) for call_id, note in rows)
        async with close.calls.update_many(items, concurrency=16, journal="run.journal") as run:
            async for result in run:
                checked: BulkResult[Call] = result
                failed += not checked.ok
        print(run.progress.rate)
    return failed


async def whole_api(close: CloseClient, lead_id: str) -> list[str]:
    lead: Any = await close.get("lead/{id}/", path_params={"id": lead_id})
    await close.put("lead/{id}/", path_params={"id": lead_id}, json={"name": lead["name"]})
    fast: CloseClientView = close.with_options(timeout=2.0, max_retries=1, headers={"X-A": "1"})
    ids = [item["id"] async for item in fast.paginate("event/", params={"_limit": 50})]
    page: Page[Any] = await close.get_page("lead/", params={"_limit": 10})
    if page.has_more and page.next_params is not None:
        ids += [o["id"] for o in (await close.get_page("lead/", params=page.next_params)).data]
    query = {"type": "object_type", "object_type": "lead"}
    ids += [r["id"] async for r in close.search(query, fields={"lead": ["id"]}, limit=10)]
    calls: Pager[Call] = close.calls.list(lead_id=lead_id)
    ids += [c.id async for c in calls if c.id is not None]
    raw: Response[Any] = await close.with_raw_response.get("me/")
    print(raw.status_code, raw.headers.get("ratelimit"), raw.rate_limit, raw.parse())
    call_response: Response[Call] = await fast.with_raw_response.calls.get("acti_x")
    call: Call = call_response.parse()
    print(call.id)
    return ids


async def oauth_app(code: str, saved: list[str]) -> str | None:
    tokens: OAuthTokens = await exchange_code("client", "secret", code)

    async def store(refresh_token: str) -> None:
        saved.append(refresh_token)

    refresher = OAuthRefresher.from_tokens("client", "secret", tokens, on_refresh_token=store)
    sync_store = OAuthRefresher("client", "secret", "rt", on_refresh_token=saved.append)

    async def current_token() -> str:
        return tokens.access_token

    async with (
        CloseClient(token_provider=refresher) as close,
        CloseClient(token_provider=current_token) as other,
    ):
        try:
            await close.get("me/")
            await other.get("me/")
        except OAuthError as exc:
            return exc.error
    return sync_store.client_id
