"""The gunicorn config of the web process (`--config python:events.gateway.gunicorn_config`).

A gateway request holds thousands of parsed JSON containers at once, so CPython's default gen-0
threshold (700 allocations) runs the collector about once per batch of 100 events over them, and
their survivors make gen-1 collections ever larger: ~3 us of ~30 per event, measured in-process with
gc.callbacks. gc.freeze() after start-up keeps the long-lived objects of Django out of every
collection, and the higher thresholds let a request's objects die by reference counting first.
"""

import gc


def post_worker_init(worker: object) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
