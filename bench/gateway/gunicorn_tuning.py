"""A gunicorn config (`-c python:bench.gateway.gunicorn_tuning`) that the benchmark can compare against.

A gateway request holds thousands of parsed JSON containers at once, so CPython's default gen-0
threshold (700 allocations) runs the collector several times per request over them; gc.freeze()
after start-up keeps the long-lived objects of Django and the specification out of every full
collection. Proposed for the web process of the project; measured with `--gc-tuning`.
"""

import gc


def post_worker_init(worker: object) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
