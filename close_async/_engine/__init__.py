"""The request engine: build a request, pace it, send it, retry it, map its errors.

It knows no resource: everything above (types, bulk, resources, the client) is built on
it, and nothing here imports from them."""
