"""Long-running commands stop cleanly: SIGTERM or SIGINT sets an event the work loop checks."""

import signal
import threading


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
