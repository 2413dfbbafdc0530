"""HTTP: a request as a value and its path checks, what an answer means (status -> error,
rate-limit feedback), the raw response, and the transport that moves the bytes (aiohttp)."""
