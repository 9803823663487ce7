"""Metrics of every process in one /metrics: prometheus_client's multiprocess mode.

Each process (web workers, consumers, relay, Celery workers) writes its counters and
histograms to memory-mapped files in PROMETHEUS_MULTIPROC_DIR; /metrics adds them up. The settings
call ``use_multiprocess_directory`` before any app creates a metric. Files are named by host and pid,
so containers that share the directory on one volume (each with its own pid 1) never share a file.

Files of processes that are gone keep counting, which keeps counters monotonic while the deployment
lives; a new deployment starts without the files of the last one (run_all removes the files of
processes no longer running; compose mounts a fresh tmpfs volume).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prometheus_client import values

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client splits file names on "_", so the host name must not contain one.
_HOST = socket.gethostname().replace("_", "-")
_configured = False
_identifier = ""


def process_identifier() -> str:
    return _identifier


def _identify_this_process() -> None:
    # prometheus_client asks for the identifier on every metric write, to notice a fork. It is kept,
    # and made anew in a forked child, because getpid() is a syscall and a gateway request writes
    # about fifteen metrics.
    global _identifier
    _identifier = f"{_HOST}-{os.getpid()}"


_identify_this_process()
os.register_at_fork(after_in_child=_identify_this_process)


def use_multiprocess_directory(directory: Path) -> None:
    """Makes every metric created from now on in this process (and its children) write to `directory`."""
    global _configured
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_VAR] = str(directory)
    if not _configured:  # one value class per process: two would map the same files twice
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)
        _configured = True


def multiprocess_active() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def clear_stale_files(directory: Path) -> int:
    """Removes the metric files of processes that no longer run on this host (an earlier run's);
    returns how many. Files of live processes stay, so a running process keeps its figures."""
    removed = 0
    for path in directory.glob("*.db"):
        if not _written_by_a_live_process(path):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _written_by_a_live_process(path: Path) -> bool:
    identifier = path.stem.rsplit("_", 1)[-1]  # counter_<id>, gauge_livesum_<id>, ...
    host, _, pid = identifier.rpartition("-")
    if not pid.isdigit() or (host and host != _HOST):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
