"""The web process's command line: defaults from the environment, and a clear exit on a bad option."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from refundtool import web


def test_defaults_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("WEB_THREADS", "7")
    assert (web.default_workers(), web.default_threads()) == (3, 7)
    monkeypatch.delenv("WEB_CONCURRENCY")
    monkeypatch.delenv("WEB_THREADS")
    assert web.default_threads() == web.DEFAULT_THREADS
    assert web.default_workers() >= 1


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--port", "0"], "must be a TCP port"),
        (["--port", "http"], "invalid _port value"),
        (["--workers", "0"], "must be 1 or more"),
        (["--threads", "-2"], "must be 1 or more"),
        (["--log-level", "loud"], "invalid choice"),
        (["--bind", "0.0.0.0:8000"], "unrecognized arguments"),
    ],
)
def test_a_bad_option_exits_2_with_a_message(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_:
        web.parse_args(argv)
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


def test_each_worker_loads_the_routed_application_and_tunes_the_collector():
    # In a child process: the factory freezes this interpreter's objects and changes its thresholds.
    code = (
        "import gc; from refundtool import web; app = web.worker_application();"
        "import refundtool.wsgi as w; assert app is w.application and app is not w.django_application;"
        "assert gc.get_threshold() == web.GC_THRESHOLDS and gc.get_freeze_count() > 0"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
