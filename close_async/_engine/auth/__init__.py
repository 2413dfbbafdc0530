"""Credentials (API key, OAuth token) and where they may be sent; OAuth tokens that renew
themselves, and the token endpoint's protocol without I/O."""
