"""Models of Close's objects (attrs) and the one converter between them and JSON."""
