"""Metrics of every process in one /metrics: prometheus_client's multiprocess mode.

Each process (gunicorn workers, consumers, relay, Celery workers) writes its counters and
histograms to memory-mapped files in PROMETHEUS_MULTIPROC_DIR; /metrics adds them up. The settings
call ``use_multiprocess_directory`` before any app creates a metric. Files are named by host and pid,
so containers that share the directory on one volume (each with its own pid 1) never share a file.

The directory must start empty with the deployment (run_all clears it; compose mounts a fresh
volume): files of processes that are gone keep counting, which keeps counters monotonic while the
deployment lives.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prometheus_client import values

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def process_identifier() -> str:
    # prometheus_client splits file names on "_", so the host name must not contain one.
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


def use_multiprocess_directory(directory: Path) -> None:
    """Makes every metric created from now on in this process (and its children) write to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_VAR] = str(directory)
    if not multiprocess_active():
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)


def multiprocess_active() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def clear_multiprocess_directory(directory: Path) -> int:
    """Removes the metric files of an earlier run; returns how many."""
    removed = 0
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
