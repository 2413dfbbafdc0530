"""Resource groups (``close.calls``, ...), typed against the engine's narrow protocol."""
