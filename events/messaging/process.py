"""Process helpers: long-running commands stop cleanly, and service threads carry names the OS shows."""

import contextlib
import ctypes
import signal
import threading

_PR_SET_NAME = 15  # prctl(2)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def name_os_thread(name: str) -> None:
    """Names the calling thread where the OS shows it: top -H, ps -L, /proc/<pid>/task/<tid>/comm.

    Python's own thread names stay inside Python, so every thread of a worker shows as "python" and
    its CPU time cannot be told apart. Linux keeps the first 15 bytes; elsewhere this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no prctl, not Linux
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
