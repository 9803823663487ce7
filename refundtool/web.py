"""The web process: granian serving the project's WSGI application (refundtool.wsgi).

    python -m refundtool.web [--host 127.0.0.1] [--port 8000] [--workers N] [--threads N] [--access-log]
                             [--log-level info]

Why granian: it parses HTTP and does the socket I/O in its Rust runtime, outside the GIL, where
gunicorn's gthread worker does both in Python under the same GIL as the views. bench.gateway
measured about 2 us less CPU per event (of ~29) in batches of 100, and a lower single-event latency.

Workers and threads: one process per core (WEB_CONCURRENCY, else the cores this process may use),
each running the application on WEB_THREADS (4) threads that share the process's Kafka producer,
so the events of requests that arrive together are written together (events.gateway.publisher).
Python runs one thread at a time in a process, so more processes than cores would only add
producers that batch less. A worker that dies is started again; SIGTERM or SIGINT stops the
workers gracefully, letting requests in flight finish.

Garbage collection, in each worker once the application is loaded: a gateway request holds
thousands of parsed JSON containers at once, so with CPython's default thresholds (700, 10, 10) the
collector runs about once per batch of 100 events and traverses them: ~3 us of ~30 per event,
measured in-process with gc.callbacks; ~0.5 us with these settings. gc.freeze() keeps the
long-lived objects of Django out of every collection, and the higher thresholds let most of a
request's objects die by reference counting before one runs.
"""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Sequence

from granian.log import LogLevels

from events.gateway.handler import WSGIApplication

DEFAULT_THREADS = 4
GC_THRESHOLDS = (20_000, 50, 100)


def default_workers() -> int:
    return int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))


def default_threads() -> int:
    return int(os.environ.get("WEB_THREADS") or DEFAULT_THREADS)


def worker_application() -> WSGIApplication:
    """Granian's factory, called in each worker process: the application, then the GC settings."""
    from refundtool.wsgi import application

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return application


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m refundtool.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8000)
    parser.add_argument("--workers", type=positive_int, help="processes (default: WEB_CONCURRENCY, else the cores)")
    parser.add_argument("--threads", type=positive_int, help="threads per process (default: WEB_THREADS, else 4)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", choices=[level.value for level in LogLevels], default=LogLevels.info.value)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    args = parse_args(argv)
    Granian(
        "refundtool.web:worker_application",
        factory=True,
        interface=Interfaces.WSGI,
        address=args.host,
        port=args.port,
        workers=args.workers or default_workers(),
        blocking_threads=args.threads or default_threads(),
        websockets=False,
        log_access=args.access_log,
        log_level=LogLevels(args.log_level),
        respawn_failed_workers=True,
    ).serve()


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError("must be a TCP port, 1 to 65535")
    return value


if __name__ == "__main__":
    main()
