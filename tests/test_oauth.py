"""OAuth apps end to end against the fake Close: the code exchange, refreshes before expiry
and after a 401 (one at a time, whatever the concurrency), the rotated refresh token stored
before use, revocation, and the token endpoint kept out of the rate limiter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import pytest
import yarl
from aiohttp import web

from close_async import (
    DEFAULT_TOKEN_URL,
    APIResponseValidationError,
    AuthenticationError,
    CloseClient,
    CloseError,
    ConfigurationError,
    InternalServerError,
    LocalRateLimiter,
    OAuthError,
    OAuthRefresher,
    OAuthTokens,
    RateFeedback,
    ResponseTimeoutError,
    RetryPolicy,
    Timeout,
    exchange_code,
    revoke_token,
)
from close_async._engine.http.aiohttp_transport import AiohttpTransport
from close_async.testing import FakeClose
from tests.conftest import serve
from tests.test_hostile import reachable_texts

CLIENT_ID = "test_client"
SECRET = "test_secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(strict=True) as server:
        yield server


class Store:
    """An app's refresh-token storage: what ``on_refresh_token`` writes to."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def save(self, token: str) -> None:
        self.tokens.append(token)

    async def save_async(self, token: str) -> None:
        await asyncio.sleep(0)
        self.tokens.append(token)


def refresher(
    fake: FakeClose, refresh_token: str, on_refresh_token: Callable[[str], Any], **options: Any
) -> OAuthRefresher:
    return OAuthRefresher(
        CLIENT_ID,
        SECRET,
        refresh_token,
        on_refresh_token=on_refresh_token,
        token_url=fake.token_url,
        **options,
    )


def client(fake: FakeClose, provider: Any, **options: Any) -> CloseClient:
    options.setdefault("retry", RetryPolicy.no_wait())
    return CloseClient(token_provider=provider, base_url=fake.base_url, **options)


def statuses(fake: FakeClose) -> list[int | str]:
    return [r.status for r in fake.requests]


async def test_the_code_exchange_gives_tokens_a_client_works_with(fake: FakeClose) -> None:
    code = fake.oauth.authorize(CLIENT_ID, user_id="user_alice")
    tokens = await exchange_code(CLIENT_ID, SECRET, code, token_url=fake.token_url)
    assert tokens.user_id == "user_alice"
    assert tokens.expires_in == 3600
    assert tokens.refresh_token is not None
    assert fake.oauth.refresh_token_valid(tokens.refresh_token)
    store = Store()
    provider = OAuthRefresher.from_tokens(
        CLIENT_ID, SECRET, tokens, on_refresh_token=store.save, token_url=fake.token_url
    )
    async with client(fake, provider) as close:
        assert await close.get("lead/") == {"data": [], "has_more": False}
    # The token was fresh: nothing was refreshed, nothing stored.
    assert provider.refreshes == 0
    assert store.tokens == []
    assert statuses(fake) == [200]
    # A code is good once.
    with pytest.raises(OAuthError) as info:
        await exchange_code(CLIENT_ID, SECRET, code, token_url=fake.token_url)
    assert info.value.error == "invalid_grant"
    assert info.value.status == 400


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_fifty_requests_on_an_expired_token_share_one_refresh(
    fake: FakeClose, kind: str
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    fake.oauth.expire_access_tokens()
    store = Store()
    provider = refresher(
        fake,
        tokens["refresh_token"],
        store.save if kind == "sync" else store.save_async,
        access_token=tokens["access_token"],
    )
    async with client(fake, provider) as close:
        answers = await asyncio.gather(*(close.get("lead/") for _ in range(50)))
    assert len(answers) == 50
    assert provider.refreshes == 1
    assert fake.oauth.stats.refreshes == 1
    # Every request was first refused (they all started with the expired token), then sent
    # once more with the one new token.
    assert statuses(fake).count(401) == 50
    assert statuses(fake).count(200) == 50
    assert len(store.tokens) == 1
    assert fake.oauth.refresh_token_valid(store.tokens[0])
    # Close revokes the refresh token it was given.
    assert not fake.oauth.refresh_token_valid(tokens["refresh_token"])


async def test_a_token_about_to_expire_is_refreshed_before_any_request_fails(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    store = Store()
    now = 1_000_000.0
    provider = refresher(
        fake,
        tokens["refresh_token"],
        store.save,
        access_token=tokens["access_token"],
        expires_at=now + 3600,
        refresh_margin=60,
    )
    provider._clock = lambda: now
    async with client(fake, provider) as close:
        await close.get("lead/")
        assert provider.refreshes == 0
        now += 3600 - 61  # still outside the margin
        await close.get("lead/")
        assert provider.refreshes == 0
        now += 2  # inside it: refreshed first, by one request for all
        await asyncio.gather(*(close.get("lead/") for _ in range(50)))
        assert provider.refreshes == 1
    assert 401 not in statuses(fake)
    assert len(store.tokens) == 1


async def test_the_margin_is_at_most_half_a_short_lifetime(fake: FakeClose) -> None:
    # With a 60-second margin and 60-second tokens, a refresh per request would follow.
    fake.oauth.token_ttl = 60
    tokens = fake.oauth.issue(CLIENT_ID)
    store = Store()
    provider = refresher(fake, tokens["refresh_token"], store.save, refresh_margin=60)
    now = 1_000_000.0
    provider._clock = lambda: now
    async with client(fake, provider) as close:
        await close.get("lead/")  # no access token yet: one refresh
        now += 29
        await close.get("lead/")
        assert provider.refreshes == 1
        now += 2
        await close.get("lead/")
        assert provider.refreshes == 2


async def test_the_new_refresh_token_is_stored_before_the_new_access_token_is_used(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    seen_when_stored: list[list[int | str]] = []

    async def store(token: str) -> None:
        await asyncio.sleep(0)
        seen_when_stored.append(statuses(fake))

    provider = refresher(fake, tokens["refresh_token"], store, access_token="stale_token")
    async with client(fake, provider) as close:
        await close.get("lead/")
    assert seen_when_stored == [[401]]  # only the refused request had been sent
    assert statuses(fake) == [401, 200]


async def test_a_failing_store_is_called_again_before_the_tokens_are_used(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    calls: list[str] = []

    def store(token: str) -> None:
        calls.append(token)
        if len(calls) == 1:
            raise OSError("the database is down")

    provider = refresher(fake, tokens["refresh_token"], store)
    async with client(fake, provider) as close:
        with pytest.raises(OSError, match="database is down"):
            await close.get("lead/")
        assert fake.requests == []  # the unsaved token was not used
        await close.get("lead/")
    # One refresh at Close, stored on the second try, with the same token.
    assert fake.oauth.stats.refreshes == 1
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert statuses(fake) == [200]


async def test_a_second_401_raises_without_refreshing_again(fake: FakeClose) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    fake.oauth.token_ttl = 1e-9  # every token issued from now on is dead on arrival
    provider = refresher(fake, tokens["refresh_token"], Store().save, access_token="stale")
    async with client(fake, provider) as close:
        with pytest.raises(AuthenticationError) as info:
            await close.get("lead/")
    assert type(info.value) is AuthenticationError
    assert provider.refreshes == 1
    assert statuses(fake) == [401, 401]


async def test_a_revoked_refresh_token_raises_oauth_error_as_an_authentication_error(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    await revoke_token(CLIENT_ID, SECRET, tokens["refresh_token"], revoke_url=fake.revoke_url)
    assert not fake.oauth.refresh_token_valid(tokens["refresh_token"])
    # Revoking the refresh token ends the grant: its access token is refused too.
    provider = refresher(fake, tokens["refresh_token"], Store().save)
    async with client(fake, provider) as close:
        with pytest.raises(AuthenticationError) as info:
            await close.get("lead/")
    assert isinstance(info.value, OAuthError)
    assert info.value.error == "invalid_grant"
    assert "authorize the app again" in str(info.value)
    async with CloseClient(oauth_token=tokens["access_token"], base_url=fake.base_url) as close:
        with pytest.raises(AuthenticationError):
            await close.get("lead/")


async def test_revoking_an_access_token_leaves_the_grant(fake: FakeClose) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    await revoke_token(CLIENT_ID, SECRET, tokens["access_token"], revoke_url=fake.revoke_url)
    # Unknown tokens are no error (RFC 7009).
    await revoke_token(CLIENT_ID, SECRET, "never_issued", revoke_url=fake.revoke_url)
    assert fake.oauth.refresh_token_valid(tokens["refresh_token"])
    with pytest.raises(OAuthError) as info:
        await revoke_token(CLIENT_ID, "wrong", tokens["refresh_token"], revoke_url=fake.revoke_url)
    assert (info.value.status, info.value.error) == (401, "invalid_client")


async def test_a_wrong_client_secret_is_refused_as_invalid_client(fake: FakeClose) -> None:
    code = fake.oauth.authorize(CLIENT_ID)
    with pytest.raises(OAuthError) as info:
        await exchange_code(CLIENT_ID, "not_the_secret", code, token_url=fake.token_url)
    assert (info.value.status, info.value.error) == (401, "invalid_client")
    assert "client id or client secret" in str(info.value)


async def test_an_async_callable_is_asked_for_each_attempt_and_again_after_a_401(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    handed: list[str] = []
    answers = iter(["stale", tokens["access_token"], tokens["access_token"]])

    async def current_token() -> str:
        handed.append(next(answers))
        return handed[-1]

    async with client(fake, current_token) as close:
        await close.get("lead/")  # stale, 401, then asked again: the good one
        await close.get("lead/")
    assert handed == ["stale", tokens["access_token"], tokens["access_token"]]
    assert statuses(fake) == [401, 200, 200]


async def test_an_async_callable_giving_the_same_refused_token_gets_the_401(
    fake: FakeClose,
) -> None:
    asked = 0

    async def current_token() -> str:
        nonlocal asked
        asked += 1
        return "always_stale"

    async with client(fake, current_token) as close:
        with pytest.raises(AuthenticationError):
            await close.get("lead/")
    assert asked == 2
    assert statuses(fake) == [401]  # nothing new to try, so nothing sent again


async def test_a_waiter_cancelled_during_a_refresh_does_not_cancel_it(fake: FakeClose) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    entered, release = asyncio.Event(), asyncio.Event()
    stored: list[str] = []

    async def store(token: str) -> None:
        entered.set()
        await release.wait()
        stored.append(token)

    provider = refresher(fake, tokens["refresh_token"], store)
    async with client(fake, provider) as close:
        first = asyncio.create_task(close.get("lead/"))
        second = asyncio.create_task(close.get("lead/"))
        await entered.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        assert await second == {"data": [], "has_more": False}
    assert provider.refreshes == 1
    assert len(stored) == 1
    assert fake.oauth.refresh_token_valid(stored[0])


async def test_the_token_request_redacts_its_secrets_in_the_answer(
    hostile_tokens: str,
) -> None:
    transport = AiohttpTransport(yarl.URL(hostile_tokens), timeout=Timeout(), max_connections=1)
    try:
        answer = await transport.post_form(
            yarl.URL(hostile_tokens + "echo-200/"),
            {"client_secret": CLIENT_SECRET, "refresh_token": REFRESH},
            secrets=(CLIENT_SECRET, REFRESH),
            timeouts=Timeout(),
        )
    finally:
        await transport.aclose()
    text = answer.body.decode()
    assert "<redacted>" in text
    # Echoed as sent (percent-encoded) and as decoded.
    assert leaked(text) == []
    assert quote_plus(REFRESH) != REFRESH
    assert quote_plus(REFRESH) not in text


class RecordingLimiter(LocalRateLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.groups: list[str] = []

    async def acquire(self, group: str) -> None:
        self.groups.append(group)
        await super().acquire(group)

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        await super().release(group, feedback)


async def test_token_requests_bypass_the_rate_limiter_and_the_request_counters(
    fake: FakeClose,
) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    limiter = RecordingLimiter()
    provider = refresher(fake, tokens["refresh_token"], Store().save, access_token="stale")
    async with client(fake, provider, rate_limiter=limiter) as close:
        await close.get("lead/")
        assert close.stats.requests == 2  # the refused attempt and the one that worked
    assert provider.refreshes == 1
    assert limiter.groups == ["GET lead", "GET lead"]


async def test_one_refresher_serves_one_open_client_at_a_time(fake: FakeClose) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    provider = refresher(fake, tokens["refresh_token"], Store().save)
    async with client(fake, provider) as close:
        with pytest.raises(ConfigurationError, match="one refresher per client"):
            client(fake, provider)
        await close.get("lead/")
    # Once closed, the next client takes it over, with the tokens it holds.
    async with client(fake, provider) as close:
        await close.get("lead/")
    assert provider.refreshes == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_secret": "has space"}, "client_secret"),
        ({"refresh_token": "line\nbreak"}, "refresh_token"),
        ({"access_token": ""}, "access_token"),
        ({"on_refresh_token": "not callable"}, "on_refresh_token"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"token_url": "http://close.example/oauth2/token/"}, "plain http"),
        ({"token_url": "ftp://x/"}, "token_url"),
        ({"timeout": 0}, "timeout"),
        ({"refresh_margin": -1}, "refresh_margin"),
    ],
)
def test_bad_refresher_settings_name_the_field(options: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "refresh_token": "rt_1",
        "on_refresh_token": Store().save,
        **options,
    }
    with pytest.raises(ConfigurationError, match=field) as info:
        OAuthRefresher(**settings)
    for secret in ("has space", "line\nbreak"):
        assert secret not in str(info.value)


def test_token_provider_goes_alone_and_must_be_a_provider() -> None:
    with pytest.raises(ConfigurationError, match="not several"):
        CloseClient(api_key="k", token_provider=lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="token_provider must be"):
        CloseClient(token_provider="a token")  # type: ignore[arg-type]


async def test_a_provider_returning_no_string_is_a_clear_error(fake: FakeClose) -> None:
    async def broken() -> Any:
        return None

    async with client(fake, broken) as close:
        with pytest.raises(ConfigurationError, match="returned NoneType"):
            await close.get("lead/")
    assert fake.requests == []


def test_the_default_token_url_is_closes() -> None:
    assert DEFAULT_TOKEN_URL == "https://api.close.com/oauth2/token/"
    provider = OAuthRefresher(CLIENT_ID, SECRET, "rt_1", on_refresh_token=Store().save)
    assert provider.token_url == DEFAULT_TOKEN_URL


# -- secrets -------------------------------------------------------------------------------

REFRESH = "rt_5ecret_Refresh_0123456789/+="
CLIENT_SECRET = "cs_5ecret_Client_9876543210"
ACCESS = "at_5ecret_Access_1357924680"
SECRETS = (REFRESH, CLIENT_SECRET, ACCESS)


def leaked(root: object) -> list[str]:
    """The secrets reachable from an error: its chain, args and attributes, all of it."""
    return [s for s in SECRETS if any(s in text for text in reachable_texts(root))]


def shown(obj: object) -> list[str]:
    """The secrets an object's repr or str shows (the object itself holds them)."""
    return [s for s in SECRETS if s in repr(obj) or s in str(obj)]


async def _echo_form(status: int, request: web.Request) -> web.Response:
    # A hostile token endpoint: quotes everything it was sent back, raw and decoded.
    raw = (await request.read()).decode()
    form = dict(await request.post())
    body = {"error": str(form.get("refresh_token")), "error_description": raw, "echo": form}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


@pytest.fixture
async def hostile_tokens() -> AsyncIterator[str]:
    done = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await done.wait()  # answers only once the test is over
        return web.Response(status=204)

    app = web.Application()
    for status in (200, 400, 401, 500):

        async def handler(request: web.Request, status: int = status) -> web.Response:
            return await _echo_form(status, request)

        app.router.add_post(f"/echo-{status}/", handler)
    app.router.add_post("/silent/", silent)
    async with serve(app) as url:
        yield url
        done.set()


SCENARIOS: dict[str, tuple[str, type[CloseError]]] = {
    "echo-200": ("echo-200/", APIResponseValidationError),
    "echo-400": ("echo-400/", OAuthError),
    "echo-401": ("echo-401/", OAuthError),
    "echo-500": ("echo-500/", InternalServerError),
    "silent": ("silent/", ResponseTimeoutError),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_no_token_endpoint_error_holds_a_secret(
    fake: FakeClose, hostile_tokens: str, scenario: str
) -> None:
    path, expected = SCENARIOS[scenario]
    provider = OAuthRefresher(
        CLIENT_ID,
        CLIENT_SECRET,
        REFRESH,
        on_refresh_token=Store().save,
        access_token=ACCESS,
        token_url=hostile_tokens + path,
        timeout=0.3,
    )
    assert shown(provider) == []
    async with client(fake, provider) as close:
        assert shown(close) == []
        with pytest.raises(CloseError) as info:
            await close.get("lead/")  # the access token is unknown: 401, then a refresh
    assert type(info.value) is expected, repr(info.value)
    assert leaked(info.value) == []


async def test_exchange_and_revoke_errors_hold_no_secret(hostile_tokens: str) -> None:
    for path in ("echo-200/", "echo-400/", "echo-500/"):
        with pytest.raises(CloseError) as info:
            await exchange_code(CLIENT_ID, CLIENT_SECRET, REFRESH, token_url=hostile_tokens + path)
        assert leaked(info.value) == []
        if path == "echo-200/":
            continue  # a 2xx is a revocation done
        with pytest.raises(CloseError) as info:
            await revoke_token(CLIENT_ID, CLIENT_SECRET, REFRESH, revoke_url=hostile_tokens + path)
        assert leaked(info.value) == []


def test_tokens_never_show_in_a_repr() -> None:
    tokens = OAuthTokens(
        access_token=ACCESS, refresh_token=REFRESH, expires_in=3600.0, expires_at=1.0
    )
    assert shown(tokens) == []
    provider = OAuthRefresher(CLIENT_ID, CLIENT_SECRET, REFRESH, on_refresh_token=Store().save)
    assert shown(provider) == []


async def test_the_fake_records_no_token(fake: FakeClose) -> None:
    tokens = fake.oauth.issue(CLIENT_ID)
    async with CloseClient(oauth_token=tokens["access_token"], base_url=fake.base_url) as close:
        await close.get("lead/")
    texts = [repr(r) for r in fake.requests] + [repr(fake), repr(fake.oauth)]
    assert not any(tokens["access_token"] in t or tokens["refresh_token"] in t for t in texts)
    # The rate budget is the grant's, so it is the same after a refresh.
    store = Store()
    provider = refresher(fake, tokens["refresh_token"], store.save)
    async with client(fake, provider) as close:
        await close.get("lead/")
    assert fake.requests[0].key == fake.requests[1].key


async def test_the_fake_token_endpoint_refuses_like_close(fake: FakeClose) -> None:
    async with aiohttp.ClientSession() as session:

        async def post(form: dict[str, str]) -> tuple[int, Any]:
            async with session.post(fake.token_url, data=form) as response:
                return response.status, await response.json()

        client = {"client_id": CLIENT_ID, "client_secret": SECRET}
        assert await post({**client, "grant_type": "password"}) == (
            400,
            {"error": "unsupported_grant_type"},
        )
        assert await post({**client, "grant_type": "refresh_token", "refresh_token": "x"}) == (
            400,
            {"error": "invalid_grant"},
        )
        assert await post({"client_id": CLIENT_ID, "grant_type": "refresh_token"}) == (
            401,
            {"error": "invalid_client"},
        )
        code = fake.oauth.authorize(CLIENT_ID)
        status, tokens = await post({**client, "grant_type": "authorization_code", "code": code})
        assert status == 200
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 3600
    assert fake.oauth.stats.refused == 3
    assert fake.oauth.stats.codes_exchanged == 1
