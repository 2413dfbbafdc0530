"""The blocking client: the async client run on a loop thread of its own."""
