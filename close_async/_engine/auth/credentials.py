"""Credentials and where they may be sent.

Close takes an API key as HTTP Basic username with an empty password, or an OAuth 2 access
token as ``Bearer``. Credentials are held in an object whose repr never shows them, and are
only sent over https, or plain http to this machine (tests, the fake server).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re

import yarl

from ..errors import ConfigurationError
from ..redact import fingerprint

__all__ = ["Credentials", "auth_header", "check_base_url", "is_loopback"]

API_KEY_ENV = "CLOSE_API_KEY"

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def auth_header(*, api_key: str | None, oauth_token: str | None) -> str:
    """The ``Authorization`` header value: ``Basic`` for an API key, ``Bearer`` for OAuth.

    Exactly one must be given. Raises :class:`ConfigurationError` otherwise, or when the
    credential cannot be sent as is; the message never contains the credential.
    """
    if (api_key is None) == (oauth_token is None):
        raise ConfigurationError("give exactly one of api_key and oauth_token")
    if api_key is not None:
        # The key is the Basic user name, so a colon would split it; control characters
        # or spaces mean a copy-paste slip that Close would refuse anyway.
        if not isinstance(api_key, str) or not _VISIBLE_ASCII.fullmatch(api_key) or ":" in api_key:
            raise ConfigurationError("api_key is empty or has characters an API key cannot have")
        encoded = base64.b64encode(f"{api_key}:".encode("ascii")).decode("ascii")
        return f"Basic {encoded}"
    if not isinstance(oauth_token, str) or not _VISIBLE_ASCII.fullmatch(oauth_token):
        # Checked here because a newline in a header value would let it inject headers.
        raise ConfigurationError("oauth_token is empty or has characters a token cannot have")
    return f"Bearer {oauth_token}"


class Credentials:
    """An API key, an OAuth token, or a token provider (named by ``provider_name``: its
    tokens change, so the engine asks it for each request); ``repr`` and ``str`` show only
    which kind it is."""

    __slots__ = ("_header", "fingerprint", "kind")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        oauth_token: str | None = None,
        provider_name: str | None = None,
    ) -> None:
        if provider_name is not None:
            # A token provider: the engine asks it for each attempt's header.
            if api_key is not None or oauth_token is not None:
                raise ConfigurationError(
                    "give one of api_key, oauth_token and token_provider, not several"
                )
            self._header = ""
            self.kind = "token_provider"
            self.fingerprint = fingerprint("token_provider:" + provider_name)
            return
        if api_key is None and oauth_token is None:
            api_key = os.environ.get(API_KEY_ENV) or None
            if api_key is None:
                raise ConfigurationError(
                    f"no credentials: pass api_key=..., oauth_token=..., or set {API_KEY_ENV}"
                )
        # auth_header refuses both-or-neither, empty values and characters a header cannot
        # carry, without ever quoting the secret.
        self._header = auth_header(api_key=api_key, oauth_token=oauth_token)
        self.kind = "api_key" if api_key is not None else "oauth_token"
        secret = api_key if api_key is not None else oauth_token
        assert secret is not None
        self.fingerprint = fingerprint(secret)

    def authorization(self) -> str:
        """The ``Authorization`` header value (empty for a token provider). Never log it."""
        return self._header

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r}, secret=<hidden>)"

    __str__ = __repr__


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (where plain http may carry credentials)."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str | yarl.URL) -> yarl.URL:
    """Parse and vet the API base URL: https, or http to a loopback host only."""
    url = yarl.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an absolute http(s) URL, got {str(url)!r}")
    if url.user or url.password:
        raise ConfigurationError("base_url must not carry credentials; pass api_key instead")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"refusing to send credentials over plain http to {url.host!r}: use https "
            "(plain http is allowed only to loopback hosts, for tests)"
        )
    if url.query_string or url.fragment:
        raise ConfigurationError("base_url must not have a query or a fragment")
    if not url.path.endswith("/"):
        url = url.with_path(url.path + "/")
    return url
