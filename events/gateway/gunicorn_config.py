"""The gunicorn config of the web process (`--config python:events.gateway.gunicorn_config`).

Workers and threads: one process per core, each with threads that share the process's Kafka
producer, so the events of requests that arrive together are written together
(events.gateway.publisher). Python runs one thread at a time in a process, so more processes than
cores would only add producers that batch less. WEB_CONCURRENCY and GUNICORN_THREADS, or --workers
and --threads, change the counts.

Garbage collection: a gateway request holds thousands of parsed JSON containers at once, so with
CPython's default thresholds (700, 10, 10) the collector runs about once per batch of 100 events
and traverses them: ~3 us of ~30 per event, measured in-process with gc.callbacks; ~0.5 us with
these settings. gc.freeze() after start-up keeps the long-lived objects of Django out of every
collection, and the higher thresholds let most of a request's objects die by reference counting
before one runs.
"""

import gc
import os

workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))  # the cores it may use
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 6)


def post_worker_init(worker: object) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
