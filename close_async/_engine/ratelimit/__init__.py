"""Rate limiting: reading Close's signals (``info``), the limiter interface, the in-process
limiter (``local``), the one shared through Redis (``redis``), and one budget for all groups."""
