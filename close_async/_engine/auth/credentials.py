"""Credentials and where they may be sent.

Close takes an API key as HTTP Basic username with an empty password, or an OAuth 2 access
token as ``Bearer``. Credentials are held in an object whose repr never shows them, and are
only sent over https, or plain http to this machine (tests, the fake server).
"""

from __future__ import annotations

import ipaddress
import os

import yarl

from ..errors import ConfigurationError
from ..http.interpret import auth_header
from ..redact import fingerprint

__all__ = ["Credentials", "check_base_url", "is_loopback"]

API_KEY_ENV = "CLOSE_API_KEY"


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
