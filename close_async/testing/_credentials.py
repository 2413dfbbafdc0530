"""Who is calling the fake Close: API keys (HTTP Basic, the key as username), static bearer
tokens and OAuth access tokens, each mapped to a :class:`Credential` whose user the seeded
organization knows. Secrets are kept out of every repr; only fingerprints are recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable

import attrs

from ._ids import fake_id
from ._oauth import FakeOAuth

__all__ = ["Credential", "Credentials", "key_fingerprint"]


def key_fingerprint(secret: str) -> str:
    """A short, non-reversible name for a credential, safe to record and show."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@attrs.frozen
class Credential:
    """An accepted credential: its fingerprint, its user, and whether it gets 403."""

    secret: str = attrs.field(repr=False)
    fingerprint: str
    user_id: str
    forbidden: bool

    @classmethod
    def of(cls, secret: str, forbidden: bool) -> Credential:
        """The credential of ``secret``; its user id derives from the fingerprint."""
        fingerprint = key_fingerprint(secret)
        return cls(secret, fingerprint, fake_id("user", "key:" + fingerprint), forbidden)


class Credentials:
    """The accepted credentials; :meth:`authenticate` reads an ``Authorization`` header.

    ``on_new`` is called once with each credential (the server makes its user a member of
    the organization), OAuth grants' included when first seen.
    """

    def __init__(
        self,
        oauth: FakeOAuth,
        *,
        api_keys: Iterable[str],
        oauth_tokens: Iterable[str],
        forbidden_keys: Iterable[str],
        on_new: Callable[[Credential], None],
    ) -> None:
        self.oauth = oauth
        self._on_new = on_new
        forbidden = set(forbidden_keys)
        self.basic: dict[str, Credential] = {}
        self.bearer: dict[str, Credential] = {}
        for secret in api_keys:
            self.basic[secret] = Credential.of(secret, secret in forbidden)
        for secret in oauth_tokens:
            self.bearer[secret] = Credential.of(secret, secret in forbidden)
        for secret in forbidden:
            self.basic.setdefault(secret, Credential.of(secret, True))
            self.bearer.setdefault(secret, Credential.of(secret, True))
        for credential in (*self.basic.values(), *self.bearer.values()):
            on_new(credential)
        self._oauth: dict[str, Credential] = {}
        self._cache: dict[str, Credential] = {}

    def authenticate(self, header: str | None) -> Credential | None:
        """The credential an ``Authorization`` header carries, or ``None`` (401)."""
        if not header:
            return None
        cached = self._cache.get(header)
        if cached is not None:
            return cached
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        credential: Credential | None = None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            credential = self.basic.get(decoded.partition(":")[0])
        elif scheme == "bearer":
            credential = self.bearer.get(value.strip())
            if credential is None:
                # Not cached: an OAuth token expires, or is revoked, at any time.
                return self._oauth_credential(value.strip())
        if credential is not None:
            # Only accepted headers are cached, so the cache cannot grow past the key list.
            self._cache[header] = credential
        return credential

    def _oauth_credential(self, token: str) -> Credential | None:
        grant = self.oauth.grant_of(token)
        if grant is None:
            return None
        credential = self._oauth.get(grant.id)
        if credential is None:
            # Named by the grant, not the token: a user's rate budget outlives refreshes.
            credential = Credential.of("oauth:" + grant.id, False)
            self._oauth[grant.id] = credential
            self._on_new(credential)
        return credential
