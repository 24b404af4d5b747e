"""The gateway: Keel's data plane, an OpenAI-compatible ASGI proxy in a process of its own.

routes.py     endpoint x environment -> upstream (service functions, events)
keys.py       consumer API keys: scopes, limits, expiry, revocation (service functions)
tables.py     the two tables the gateway owns
config.py     the immutable snapshot a running gateway serves from; its version
watch.py      polling the version each second and swapping snapshots
app.py        the ASGI hot path: auth, routing, limits, hooks, in one visible order
forward.py    forwarding to the upstream (no redirects, time-outs, breaker), relaying SSE
hooks.py      the per-request `Call` and the input/output hook points for guards
ratelimit.py  sliding-window rpm/tpm per key and per endpoint (memory or Redis)
tokens.py     offline, approximate token counts for reservations
breaker.py    the circuit breaker per upstream
errors.py     OpenAI-style errors; upstream failures translated in one place
traffic.py    the request event's schema, and the batched `traffic` audit log
journal.py    each record on disk before its answer is released; recovery after a kill
metrics.py    Prometheus metrics (admin port)
openapi.py    the gateway's own OpenAPI document
server.py     running it: uvicorn on the traffic port, aiohttp on the admin port
"""
