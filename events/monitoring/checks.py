"""System checks of monitoring's settings (`manage.py check` and every process start run them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def check_metrics_setup(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """/metrics adds up every process only when each one writes to the shared directory."""
    from events.monitoring.multiprocess import multiprocess_active

    if multiprocess_active():
        return []
    return [
        checks.Warning(
            "prometheus_client is not in multiprocess mode: /metrics shows only the process that serves it",
            hint="Something imported prometheus_client and created metrics before the settings ran "
            "use_multiprocess_directory; PROMETHEUS_MULTIPROC_DIR must be set before that.",
            id="monitoring.W001",
        )
    ]


def check_response_timeouts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from events.monitoring.expectations import command_types

    unknown = sorted(set(settings.REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS) - set(command_types()))
    if not unknown:
        return []
    return [
        checks.Error(
            f"REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS names {', '.join(unknown)}, which are not command types",
            hint=f"Command types of the specification: {', '.join(command_types())}.",
            id="monitoring.E001",
        )
    ]
