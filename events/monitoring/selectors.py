"""Reads for on-call: consumer lag (the stored windows, evaluated by Burrow's rules) and the commands
still waiting for their response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from events.monitoring import store
from events.monitoring.lag import GroupStatus, evaluate_group
from events.monitoring.models import ResponseExpectation


def group_windows_status(group: store.GroupWindows) -> GroupStatus:
    """Evaluated at the time of the group's last pass, so a sampler that stopped leaves its last
    picture instead of turning every group to STOP."""
    return evaluate_group(
        cluster=settings.KAFKA_CLUSTER_NAME,
        group=group.group,
        windows=group.windows,
        window_size=settings.LAG_WINDOW_SAMPLES,
        now_ms=group.sampled_at_ms,
    )


def lag_group_status(*, group: str) -> GroupStatus | None:
    windows = store.load_group(group)
    return None if windows is None else group_windows_status(windows)


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    sampled_at_ms: int | None  # the last pass; None before the first
    statuses: list[GroupStatus]  # by group name


def lag_snapshot() -> LagSnapshot:
    index = store.load_index()
    if index is None:
        return LagSnapshot(sampled_at_ms=None, statuses=[])
    statuses = sorted((group_windows_status(g) for g in store.load_groups(index.groups)), key=lambda s: s.group)
    return LagSnapshot(sampled_at_ms=index.sampled_at_ms, statuses=statuses)


def expectations_waiting(
    *, now: datetime, overdue: bool | None = None, command_type: str | None = None, limit: int = 100
) -> tuple[list[ResponseExpectation], int]:
    """Open expectations, earliest deadline first, and how many match in all: overdue ones only
    (True), those still in time (False) or both (None)."""
    waiting = ResponseExpectation.objects.filter(answered_at__isnull=True)
    if overdue is True:
        waiting = waiting.filter(deadline__lt=now)
    elif overdue is False:
        waiting = waiting.filter(deadline__gte=now)
    if command_type is not None:
        waiting = waiting.filter(command_type=command_type)
    return list(waiting.order_by("deadline", "id")[:limit]), waiting.count()
