"""The fake Close's OAuth 2 server: ``/oauth2/token/`` and ``/oauth2/revoke/``.

Like Close: the token endpoint takes form-encoded ``grant_type=authorization_code`` (a code
from :meth:`FakeOAuth.authorize`, usable once) or ``grant_type=refresh_token``; every
refresh returns a new refresh token and revokes the old one; access tokens live
``token_ttl`` seconds, after which the API answers them 401. Refusals are RFC 6749 bodies
(``{"error": "invalid_grant"}``, 400; a wrong client, 401). Nothing here records a secret.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

__all__ = ["FakeOAuth", "FakeOAuthStats", "OAuthGrant"]

TOKEN_PATH = "/oauth2/token/"  # noqa: S105 (a path, not a secret)
REVOKE_PATH = "/oauth2/revoke/"


@attrs.define
class OAuthGrant:
    """One user's authorization of one app: its tokens come and go, the grant stays.

    ``id`` names the user's rate budget in the fake (stable across refreshes).
    """

    id: str
    client_id: str
    user_id: str
    revoked: bool = False


@attrs.define
class FakeOAuthStats:
    """Counters of the OAuth endpoints: token requests by grant type, refusals, revocations."""

    codes_exchanged: int = 0
    refreshes: int = 0
    refused: int = 0
    revocations: int = 0


@attrs.define
class _Access:
    grant: OAuthGrant
    expires_at: float


class FakeOAuth:
    """Issues, rotates, expires and revokes OAuth tokens for :class:`FakeClose`.

    ``clients`` maps client ids to client secrets. ``token_ttl``: access-token lifetime in
    seconds (Close's is 3600), changeable at any time for tokens issued afterwards.
    """

    def __init__(
        self,
        clients: Mapping[str, str],
        *,
        token_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token_ttl > 0:
            raise ValueError(f"oauth_token_ttl must be > 0 seconds, got {token_ttl!r}")
        self._clients = dict(clients)
        self.token_ttl = token_ttl
        self._clock = clock
        self._codes: dict[str, OAuthGrant] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, OAuthGrant] = {}
        self._grant_numbers = itertools.count()
        self.stats: FakeOAuthStats = FakeOAuthStats()

    def __repr__(self) -> str:
        return f"<FakeOAuth clients={len(self._clients)} access_tokens={len(self._access)}>"

    # -- for tests -----------------------------------------------------------------------

    def authorize(self, client_id: str, user_id: str = "user_oauth") -> str:
        """What a user granting access in Close's consent screen yields: a one-time code."""
        if client_id not in self._clients:
            raise ValueError("unknown client_id")
        grant = OAuthGrant(f"grant_{next(self._grant_numbers)}", client_id, user_id)
        code = "code_" + secrets.token_urlsafe(16)
        self._codes[code] = grant
        return code

    def issue(self, client_id: str, user_id: str = "user_oauth") -> dict[str, Any]:
        """Tokens as a code exchange would answer them, without the HTTP round trip."""
        code = self.authorize(client_id, user_id)
        return self._tokens(self._codes.pop(code))

    def expire_access_tokens(self) -> int:
        """Expire every access token now (as if their hour passed); returns how many."""
        count = len(self._access)
        self._access.clear()
        return count

    def refresh_token_valid(self, token: str) -> bool:
        """Whether ``token`` is a refresh token that may still be used."""
        grant = self._refresh.get(token)
        return grant is not None and not grant.revoked

    def grant_of(self, access_token: str) -> OAuthGrant | None:
        """The grant an access token in force belongs to, or ``None`` (unknown, expired or
        revoked): what the API authenticates a ``Bearer`` header by."""
        access = self._access.get(access_token)
        if access is None:
            return None
        if access.grant.revoked or self._clock() >= access.expires_at:
            del self._access[access_token]
            return None
        return access.grant

    # -- HTTP ----------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Serve the token and revocation endpoints on ``router``."""
        router.add_route("POST", TOKEN_PATH, self._token)
        router.add_route("POST", REVOKE_PATH, self._revoke)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not self._client_ok(form):
            return self._refuse(401, "invalid_client")
        grant_type = form.get("grant_type")
        grant: OAuthGrant | None
        if grant_type == "authorization_code":
            code = form.get("code")
            grant = self._codes.pop(code, None) if isinstance(code, str) else None
            if grant is not None:
                self.stats.codes_exchanged += 1
        elif grant_type == "refresh_token":
            old = form.get("refresh_token")
            grant = self._refresh.pop(old, None) if isinstance(old, str) else None
            if grant is not None:
                self.stats.refreshes += 1
        else:
            return self._refuse(400, "unsupported_grant_type")
        if grant is None or grant.revoked or grant.client_id != form.get("client_id"):
            return self._refuse(400, "invalid_grant")
        return web.json_response(self._tokens(grant))

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not self._client_ok(form):
            return self._refuse(401, "invalid_client")
        token = form.get("token")
        if not isinstance(token, str) or not token:
            return self._refuse(400, "invalid_request")
        self.stats.revocations += 1
        grant = self._refresh.get(token)
        if grant is not None and grant.client_id == form.get("client_id"):
            grant.revoked = True  # the whole grant: its access tokens die with it
        access = self._access.get(token)
        if access is not None and access.grant.client_id == form.get("client_id"):
            del self._access[token]
        # RFC 7009: 200 whether or not the token was known.
        return web.Response(status=200)

    def _client_ok(self, form: Mapping[str, Any]) -> bool:
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        expected = self._clients.get(client_id) if isinstance(client_id, str) else None
        return (
            expected is not None
            and isinstance(secret, str)
            and secrets.compare_digest(secret.encode(), expected.encode())
        )

    def _refuse(self, status: int, error: str) -> web.Response:
        self.stats.refused += 1
        return web.json_response({"error": error}, status=status)

    def _tokens(self, grant: OAuthGrant) -> dict[str, Any]:
        access = "fake_at_" + secrets.token_urlsafe(24)
        refresh = "fake_rt_" + secrets.token_urlsafe(24)
        self._access[access] = _Access(grant, self._clock() + self.token_ttl)
        self._refresh[refresh] = grant
        return {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": self.token_ttl,
            "refresh_token": refresh,
            "scope": "all.full_access offline_access",
            "organization_id": "orga_fake",
            "user_id": grant.user_id,
        }
