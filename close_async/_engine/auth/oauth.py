"""OAuth 2 access tokens that renew themselves, and the helpers around them.

A client built with ``token_provider=`` asks :class:`TokenAuth` for the ``Authorization``
header of every attempt. The provider is either an async callable returning the current
access token (the app keeps the tokens), or an :class:`OAuthRefresher`, which refreshes
through Close's token endpoint shortly before the token expires, and once when Close
answers 401. One refresh runs at a time, whatever the number of requests waiting for it:
Close revokes a refresh token as soon as it is used, so two refreshes racing would leave
one of them holding a dead token.

Token requests go through the client's aiohttp session but not through its rate limiter:
the limiter paces Close's API rate budget by endpoint group, which the token endpoint
(outside ``/api/v1/``) is no part of, and a refresh queued behind API pacing would hold up
every request waiting for the token. They are bounded by their own timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import yarl

from ..config import Timeout
from ..errors import ConfigurationError
from ..http.transport import Transport
from .credentials import auth_header
from .oauth_protocol import (
    DEFAULT_REVOKE_URL,
    DEFAULT_TOKEN_URL,
    OAuthTokens,
    check_endpoint,
    check_secret,
    code_form,
    refresh_form,
    revoke_form,
    revoked,
    tokens_from_answer,
)

if TYPE_CHECKING:
    # aiohttp is most of what importing the package would cost: loaded with the first client.
    import aiohttp

__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "OAuthRefresher",
    "TokenAuth",
    "TokenProvider",
    "exchange_code",
    "revoke_token",
]

DEFAULT_REFRESH_MARGIN = 60.0
"""Seconds before expiry at which an :class:`OAuthRefresher` renews the access token."""
_DEFAULT_TOKEN_TIMEOUT = 30.0

RefreshTokenCallback = Callable[[str], Awaitable[None] | None]


class OAuthRefresher:
    """Keeps an OAuth access token fresh for a :class:`CloseClient`.

    Pass it as ``CloseClient(token_provider=refresher)``. It refreshes through Close's
    token endpoint ``refresh_margin`` seconds before the access token expires (at most half
    its lifetime before), and once when Close answers 401 (the request is then sent again,
    once, with the new token). Concurrent requests share one refresh.

    Each refresh returns a new refresh token and Close revokes the old one, so
    ``on_refresh_token`` (a function or coroutine function taking the new refresh token)
    is called, and must store it, before the new access token is used. If it raises, its
    exception reaches the request that waited for the token, and the next request calls
    it again with the same token before anything else.

    ``access_token`` and ``expires_at`` (seconds since the epoch, as in
    :class:`OAuthTokens`) let a restarted service use the token it has; without them the
    first request refreshes. ``token_url`` is Close's unless set (tests point it at the fake
    server). ``timeout``: seconds for one token request. ``refreshes`` counts the token
    requests it has sent. Its ``repr`` shows no secret.

    Example::

        async def store(refresh_token: str) -> None:
            await db.save_refresh_token(user_id, refresh_token)

        refresher = OAuthRefresher(CLIENT_ID, CLIENT_SECRET, saved_refresh_token,
                                   on_refresh_token=store)
        async with CloseClient(token_provider=refresher) as close:
            me = await close.get("me/")
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        on_refresh_token: RefreshTokenCallback,
        access_token: str | None = None,
        expires_at: float | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        timeout: float = _DEFAULT_TOKEN_TIMEOUT,
    ) -> None:
        self.client_id: str = check_secret("client_id", client_id)
        self._client_secret = check_secret("client_secret", client_secret)
        self._refresh_token = check_secret("refresh_token", refresh_token)
        if not callable(on_refresh_token):
            raise ConfigurationError(
                "on_refresh_token must be a function (or coroutine function) that stores "
                "the new refresh token"
            )
        self._on_refresh_token = on_refresh_token
        self._access = None if access_token is None else check_secret("access_token", access_token)
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, int | float)
        ):
            raise ConfigurationError("expires_at must be seconds since the epoch, or None")
        self._endpoint = check_endpoint("token_url", token_url)
        self.token_url: str = str(self._endpoint)
        self._margin = _positive("refresh_margin", refresh_margin, zero_ok=True)
        self._timeout = Timeout(
            connect=min(10.0, _positive("timeout", timeout)), attempt=float(timeout)
        )
        self._refresh_at = None if expires_at is None else expires_at - self._margin
        self._unsaved: OAuthTokens | None = None
        self._pending: asyncio.Task[str] | None = None
        self._transport: Transport | None = None
        # Tests swap in a fake clock to move past the token's expiry without waiting.
        self._clock: Callable[[], float] = time.time
        self.refreshes: int = 0

    @classmethod
    def from_tokens(
        cls,
        client_id: str,
        client_secret: str,
        tokens: OAuthTokens,
        *,
        on_refresh_token: RefreshTokenCallback,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        timeout: float = _DEFAULT_TOKEN_TIMEOUT,
    ) -> OAuthRefresher:
        """A refresher starting from what :func:`exchange_code` returned."""
        if tokens.refresh_token is None:
            raise ConfigurationError(
                "these tokens have no refresh_token (the app lacks the offline_access scope): "
                "nothing to refresh with"
            )
        return cls(
            client_id,
            client_secret,
            tokens.refresh_token,
            on_refresh_token=on_refresh_token,
            access_token=tokens.access_token,
            expires_at=tokens.expires_at,
            token_url=token_url,
            refresh_margin=refresh_margin,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return (
            f"OAuthRefresher(client_id={self.client_id!r}, token_url={self.token_url!r}, "
            "secrets=<hidden>)"
        )

    __str__ = __repr__

    # -- what TokenAuth asks -------------------------------------------------------------

    async def _current(self) -> str:
        access = self._access
        if access is not None and (self._refresh_at is None or self._clock() < self._refresh_at):
            return access
        return await self._shared_refresh()

    async def _after_rejection(self, rejected: str) -> str:
        access = self._access
        if access is not None and access != rejected:
            # Another request's refresh already replaced the token Close refused.
            return await self._current()
        return await self._shared_refresh()

    async def _shared_refresh(self) -> str:
        task = self._pending
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh())
            self._pending = task
            task.add_done_callback(self._refresh_done)
        # Shielded: a waiter's timeout must not cancel a refresh that others wait for, nor
        # lose a refresh token Close has just rotated.
        return await asyncio.shield(task)

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        self._pending = None
        if not task.cancelled():
            task.exception()  # retrieved here, since every waiter may have gone

    async def _refresh(self) -> str:
        tokens = self._unsaved
        if tokens is None:
            transport = self._transport
            if transport is None:
                raise RuntimeError("this OAuthRefresher is not attached to an open CloseClient")
            self.refreshes += 1
            answer = await transport.post_form(
                self._endpoint,
                refresh_form(self.client_id, self._client_secret, self._refresh_token),
                secrets=(self._client_secret, self._refresh_token),
                timeouts=self._timeout,
            )
            tokens = tokens_from_answer(
                answer.status, answer.body, path=self._endpoint.path, now=self._clock()
            )
            self._unsaved = tokens
        new_refresh = tokens.refresh_token
        if new_refresh is not None and new_refresh != self._refresh_token:
            stored = self._on_refresh_token(new_refresh)
            if inspect.isawaitable(stored):
                await stored
            self._refresh_token = new_refresh
        self._unsaved = None
        self._adopt(tokens)
        return tokens.access_token

    def _adopt(self, tokens: OAuthTokens) -> None:
        self._access = tokens.access_token
        if tokens.expires_at is None or tokens.expires_in is None:
            self._refresh_at = None
        else:
            # A margin past half the lifetime would refresh on every request.
            self._refresh_at = tokens.expires_at - min(self._margin, tokens.expires_in / 2)

    # -- life cycle ----------------------------------------------------------------------

    def _attach(self, transport: Transport) -> None:
        if self._transport is not None:
            raise ConfigurationError(
                "this OAuthRefresher already serves an open CloseClient: use one refresher "
                "per client (close the other client first)"
            )
        self._transport = transport

    async def _detach(self) -> None:
        pending = self._pending
        if pending is not None:
            # A refresh in flight may already have rotated the token: let it be stored.
            await asyncio.wait([pending])
        self._transport = None


TokenProvider = Callable[[], Awaitable[str]] | OAuthRefresher
"""What ``CloseClient(token_provider=...)`` takes: an :class:`OAuthRefresher`, or an async
callable returning the current access token."""


class TokenAuth:
    """The engine's source of ``Authorization`` headers for a token provider.

    For an async callable: it is called for every attempt, and once more after a 401 (the
    request is sent again if it returns another token). For an :class:`OAuthRefresher`:
    its cached token, renewed before expiry and after a 401.
    """

    __slots__ = ("_call", "_header", "_refresher", "_token")

    def __init__(self, provider: TokenProvider, transport: Transport) -> None:
        self._refresher: OAuthRefresher | None = None
        self._call: Callable[[], Awaitable[str]] | None = None
        if isinstance(provider, OAuthRefresher):
            provider._attach(transport)
            self._refresher = provider
        elif callable(provider):
            self._call = provider
        else:
            raise ConfigurationError(
                "token_provider must be an OAuthRefresher, or an async callable returning "
                "the current access token"
            )
        self._token = ""
        self._header = ""

    def __repr__(self) -> str:
        return "TokenAuth(<hidden>)"

    async def authorization(self) -> str:
        """The header value for the next attempt. Never log it."""
        if self._refresher is not None:
            return self._header_for(await self._refresher._current())
        assert self._call is not None
        return self._header_for(await self._provided())

    async def after_rejection(self, rejected: str) -> str | None:
        """The header to send again with after Close answered 401 to ``rejected``, or
        ``None`` when there is no other token to try."""
        _, _, token = rejected.partition(" ")
        if self._refresher is not None:
            fresh = await self._refresher._after_rejection(token)
        else:
            fresh = await self._provided()
        header = self._header_for(fresh)
        return None if header == rejected else header

    async def _provided(self) -> str:
        assert self._call is not None
        token = await self._call()
        if not isinstance(token, str):
            raise ConfigurationError(
                f"token_provider returned {type(token).__name__}, not the access token (str)"
            )
        return token

    def _header_for(self, token: str) -> str:
        if token is not self._token:
            # Checked once per token, not per request: a line break would inject headers.
            self._header = auth_header(api_key=None, oauth_token=token)
            self._token = token
        return self._header

    async def aclose(self) -> None:
        """Let a refresh in flight finish (its new refresh token gets stored), then let
        the refresher serve another client."""
        if self._refresher is not None:
            await self._refresher._detach()


async def exchange_code(
    client_id: str,
    client_secret: str,
    code: str,
    *,
    redirect_uri: str | None = None,
    token_url: str = DEFAULT_TOKEN_URL,
    session: aiohttp.ClientSession | None = None,
    timeout: float = _DEFAULT_TOKEN_TIMEOUT,
) -> OAuthTokens:
    """Exchange the authorization ``code`` Close sent to the app's redirect URI for tokens.

    Give ``redirect_uri`` if the authorization request had one. ``session``: an aiohttp
    session to send through (left open); by default one is opened for this call. Raises
    :class:`OAuthError` if Close refuses (``error="invalid_grant"``: the code was used or
    has expired), an :class:`APIConnectionError` if it cannot be reached within ``timeout``
    seconds.

    Example, in the redirect URI's handler::

        tokens = await exchange_code(CLIENT_ID, CLIENT_SECRET, request.query["code"])
        await db.save_refresh_token(tokens.user_id, tokens.refresh_token)
    """
    form = code_form(
        check_secret("client_id", client_id),
        check_secret("client_secret", client_secret),
        check_secret("code", code),
        redirect_uri,
    )
    url = check_endpoint("token_url", token_url)
    status, body = await _post_once(url, form, (client_secret, code), session, timeout)
    return tokens_from_answer(status, body, path=url.path, now=time.time())


async def revoke_token(
    client_id: str,
    client_secret: str,
    token: str,
    *,
    revoke_url: str = DEFAULT_REVOKE_URL,
    session: aiohttp.ClientSession | None = None,
    timeout: float = _DEFAULT_TOKEN_TIMEOUT,
) -> None:
    """Revoke an access token or a refresh token (a user disconnecting the app).

    Revoking a refresh token ends the whole grant, its access tokens too. A token already
    invalid is no error (RFC 7009). Raises :class:`OAuthError` if Close refuses (a wrong
    client id or secret). ``session`` and ``timeout`` as for :func:`exchange_code`.
    """
    form = revoke_form(
        check_secret("client_id", client_id),
        check_secret("client_secret", client_secret),
        check_secret("token", token),
    )
    url = check_endpoint("revoke_url", revoke_url)
    status, body = await _post_once(url, form, (client_secret, token), session, timeout)
    revoked(status, body, path=url.path)


async def _post_once(
    url: yarl.URL,
    form: dict[str, str],
    secrets: tuple[str, ...],
    session: aiohttp.ClientSession | None,
    timeout: float,
) -> tuple[int, bytes]:
    seconds = _positive("timeout", timeout)
    timeouts = Timeout(connect=min(10.0, seconds), attempt=seconds)
    from ..http.aiohttp_transport import AiohttpTransport

    transport = AiohttpTransport(url, timeout=timeouts, max_connections=2, session=session)
    try:
        answer = await transport.post_form(url, form, secrets=secrets, timeouts=timeouts)
    finally:
        await transport.aclose()
    return answer.status, answer.body


def _positive(name: str, value: object, *, zero_ok: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (value >= 0 if zero_ok else value > 0)
    ):
        raise ConfigurationError(f"{name} must be {'0 or more' if zero_ok else 'positive'} seconds")
    return float(value)
