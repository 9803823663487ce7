"""The gunicorn config of the web process (`--config python:events.gateway.gunicorn_config`).

A gateway request holds thousands of parsed JSON containers at once, so with CPython's default
thresholds (700, 10, 10) the collector runs about once per batch of 100 events and traverses them:
~3 us of ~30 per event, measured in-process with gc.callbacks; ~0.5 us with these settings.
gc.freeze() after start-up keeps the long-lived objects of Django out of every collection, and the
higher thresholds let most of a request's objects die by reference counting before one runs.
"""

import gc


def post_worker_init(worker: object) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
