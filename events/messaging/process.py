"""Process helpers: long-running commands stop cleanly, wait out a dependency that is down, and
service threads carry names the OS shows."""

import contextlib
import ctypes
import logging
import random
import signal
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)
BACKOFF_MAX_SECONDS = 30.0

_PR_SET_NAME = 15  # prctl(2)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def retry_until_done(
    action: Callable[[], object], *, stop: threading.Event, what: str, errors: tuple[type[BaseException], ...]
) -> bool:
    """Runs `action` until it returns without one of `errors`, waiting between tries with capped,
    jittered backoff. Logs once when it starts failing and once when it succeeds after that, not
    once per try. Returns False when `stop` was set before it succeeded."""
    backoff, failing = 0.5, False
    while not stop.is_set():
        try:
            action()
        except errors as exc:
            if not failing:
                logger.warning("%s unavailable (%s); retrying until it answers", what, exc)
                failing = True
            stop.wait(random.uniform(backoff / 2, backoff))
            backoff = min(BACKOFF_MAX_SECONDS, backoff * 2)
            continue
        if failing:
            logger.warning("%s available again", what)
        return True
    return False


def name_os_thread(name: str) -> None:
    """Names the calling thread where the OS shows it: top -H, ps -L, /proc/<pid>/task/<tid>/comm.

    Python's own thread names stay inside Python, so every thread of a worker shows as "python" and
    its CPU time cannot be told apart. Linux keeps the first 15 bytes; elsewhere this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no prctl, not Linux
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
