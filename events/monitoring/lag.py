"""Consumer lag evaluation by Burrow's rules ("Consumer Lag Evaluation Rules", linkedin/Burrow).

Pure functions: no clock, no I/O. A partition is judged on its window of recent commits (oldest
first), the recent high watermarks of its topic partition, and its current lag; a group is the worst
of its partitions. Statuses and their numeric codes are Burrow's, so dashboards and alerts written
for Burrow read ours unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, TypedDict

PartitionStatusName = Literal["OK", "WARN", "STOP", "STALL", "REWIND"]
GroupStatusName = Literal["NOTFOUND", "OK", "WARN", "ERR"]

# Burrow's StatusConstant order: a group takes the highest code of its partitions, capped at ERR.
STATUS_CODES: dict[str, int] = {"NOTFOUND": 0, "OK": 1, "WARN": 2, "ERR": 3, "STOP": 4, "STALL": 5, "REWIND": 6}


class Commit(TypedDict):
    offset: int
    timestamp_ms: int
    lag: int | None  # high watermark minus offset when it was seen; None when the watermark was unknown


def evaluate_partition(
    commits: Sequence[Commit], broker_offsets: Sequence[int], current_lag: int | None, now_ms: int
) -> PartitionStatusName:
    """The status of one partition, by Burrow's rules in Burrow's order.

    ``current_lag`` None means the latest high watermark could not be read: unknown is not zero,
    so the window is judged (STOP, for one, needs no lag at all).
    """
    if not commits:
        return "OK"
    if current_lag == 0:
        return "OK"
    # A stop is checked before the zero-lag rule because an old zero lag proves nothing about now;
    # a high watermark seen recently at or below the last commit means the consumer was caught up.
    if _stopped(commits, now_ms) and not _caught_up_recently(commits[-1]["offset"], broker_offsets):
        return "STOP"
    if any(commit["lag"] == 0 for commit in commits):
        return "OK"
    offsets = [commit["offset"] for commit in commits]
    if any(later < earlier for earlier, later in pairwise(offsets)):
        return "REWIND"
    if all(offset == offsets[0] for offset in offsets):
        return "STALL"
    if _lag_never_decreases(commits):
        return "WARN"
    return "OK"


def _stopped(commits: Sequence[Commit], now_ms: int) -> bool:
    first, last = commits[0]["timestamp_ms"], commits[-1]["timestamp_ms"]
    return now_ms - last > last - first


def _caught_up_recently(last_offset: int, broker_offsets: Sequence[int]) -> bool:
    return any(broker_offset <= last_offset for broker_offset in broker_offsets)


def _lag_never_decreases(commits: Sequence[Commit]) -> bool:
    # Unknown lags are skipped, so a drop is looked for between the known ones on either side.
    known = [commit["lag"] for commit in commits if commit["lag"] is not None]
    return all(later >= earlier for earlier, later in pairwise(known))


@dataclass(frozen=True, slots=True)
class PartitionWindow:
    """What the sampler keeps for one partition of one group."""

    topic: str
    partition: int
    commits: Sequence[Commit]
    broker_offsets: Sequence[int]
    current_lag: int | None
    owner: str = ""
    client_id: str = ""


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    topic: str
    partition: int
    owner: str
    client_id: str
    status: PartitionStatusName
    start: Commit | None
    end: Commit | None
    current_lag: int | None
    complete: float


@dataclass(frozen=True, slots=True)
class GroupStatus:
    cluster: str
    group: str
    status: GroupStatusName
    complete: float
    partitions: tuple[PartitionStatus, ...]
    maxlag: PartitionStatus | None
    totallag: int
    evaluated_at_ms: int

    @property
    def partition_count(self) -> int:
        return len(self.partitions)


def evaluate_window(window: PartitionWindow, *, window_size: int, now_ms: int) -> PartitionStatus:
    """``complete`` is the share of the window that holds commits, as Burrow's ring of ``intervals``."""
    commits = window.commits
    return PartitionStatus(
        topic=window.topic,
        partition=window.partition,
        owner=window.owner,
        client_id=window.client_id,
        status=evaluate_partition(commits, window.broker_offsets, window.current_lag, now_ms),
        start=commits[0] if commits else None,
        end=commits[-1] if commits else None,
        current_lag=window.current_lag,
        complete=min(len(commits), window_size) / window_size,
    )


def evaluate_group(
    *, cluster: str, group: str, windows: Iterable[PartitionWindow], window_size: int, now_ms: int
) -> GroupStatus:
    """The group is its worst partition (STOP, STALL and REWIND count as ERR).

    ``complete`` is the share of partitions whose window is full (0 for a group without partitions),
    ``maxlag`` the partition with the most current lag (the first in topic/partition order on a tie),
    ``totallag`` the sum of the known current lags.
    """
    partitions = tuple(
        evaluate_window(window, window_size=window_size, now_ms=now_ms)
        for window in sorted(windows, key=lambda w: (w.topic, w.partition))
    )
    worst = max((STATUS_CODES[p.status] for p in partitions), default=STATUS_CODES["OK"])
    status: GroupStatusName = "OK"
    if worst >= STATUS_CODES["ERR"]:
        status = "ERR"
    elif worst == STATUS_CODES["WARN"]:
        status = "WARN"
    return GroupStatus(
        cluster=cluster,
        group=group,
        status=status,
        complete=sum(p.complete == 1.0 for p in partitions) / len(partitions) if partitions else 0.0,
        partitions=partitions,
        maxlag=max(partitions, key=_lag_or_below_zero, default=None),  # max() keeps the first of equals
        totallag=sum(p.current_lag for p in partitions if p.current_lag is not None),
        evaluated_at_ms=now_ms,
    )


def _lag_or_below_zero(partition: PartitionStatus) -> int:
    return -1 if partition.current_lag is None else partition.current_lag
