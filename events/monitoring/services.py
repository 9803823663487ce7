"""The lag sampler: one pass reads the cluster's committed offsets and high watermarks, moves each
partition's window forward and stores it.

Burrow sees every offset commit in ``__consumer_offsets``; a sampler sees only where each group's
offset stands. A pass therefore records a commit for a partition when its committed offset moved, or
when the group has members (a live member that does not move its offset is, to Burrow, one
committing the same offset again: STALL once the window holds nothing else). An Empty group whose
offset stands still records nothing, so its last commit ages until Burrow's STOP rule fires. Every
pass also records the partition's high watermark, which is what holds STOP back while the consumer
had recently caught up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings

from events.monitoring import store
from events.monitoring.broker import GroupOffsets, read_cluster_offsets
from events.monitoring.lag import Commit, GroupStatus, PartitionWindow
from events.monitoring.selectors import group_windows_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LagSampleResult:
    sampled_at_ms: int
    statuses: list[GroupStatus]


def lag_sample(*, now_ms: int | None = None, timeout_seconds: float = 10.0) -> LagSampleResult | None:
    """Runs one sampling pass; None when another pass is running.

    ``now_ms`` is the time the pass is recorded at (the wall clock unless given). Raises
    KafkaException when the cluster cannot be read; the stored windows are then left as they were.
    """
    lock_seconds = max(int(timeout_seconds * 4), settings.LAG_SAMPLE_INTERVAL_SECONDS)
    with store.sampling_lock(timeout_seconds=lock_seconds) as acquired:
        if not acquired:
            logger.info("another lag sampling pass is running; skipping this one")
            return None
        cluster = read_cluster_offsets(timeout_seconds=timeout_seconds)
        sampled_at_ms = int(time.time() * 1000) if now_ms is None else now_ms
        index = store.load_index()
        previous = {g.group: g for g in store.load_groups(index.groups)} if index else {}
        kept: list[store.GroupWindows] = []
        for observed in cluster.groups:
            if observed.committed is None:
                # Unreadable this pass: keep the old window and its own evaluation time, so a
                # failed read is never mistaken for a consumer that stopped.
                if observed.group in previous:
                    kept.append(previous[observed.group])
            elif observed.committed:
                kept.append(
                    _group_after_pass(previous.get(observed.group), observed, cluster.high_watermarks, sampled_at_ms)
                )
        kept_names = {g.group for g in kept}
        store.save_pass(
            sampled_at_ms=sampled_at_ms, groups=kept, dropped=[name for name in previous if name not in kept_names]
        )
    return LagSampleResult(sampled_at_ms=sampled_at_ms, statuses=[group_windows_status(g) for g in kept])


def _group_after_pass(
    previous: store.GroupWindows | None,
    observed: GroupOffsets,
    high_watermarks: dict[tuple[str, int], int],
    sampled_at_ms: int,
) -> store.GroupWindows:
    old_windows = {(w.topic, w.partition): w for w in previous.windows} if previous else {}
    windows = []
    for (topic, partition), offset in sorted((observed.committed or {}).items()):
        owner, client_id = observed.owners.get((topic, partition), ("", ""))
        windows.append(
            window_after_observation(
                old_windows.get((topic, partition)),
                topic=topic,
                partition=partition,
                committed_offset=offset,
                high_watermark=high_watermarks.get((topic, partition)),
                group_active=observed.active,
                sampled_at_ms=sampled_at_ms,
                window_size=settings.LAG_WINDOW_SAMPLES,
                owner=owner,
                client_id=client_id,
            )
        )
    return store.GroupWindows(
        group=observed.group, state=observed.state.name, sampled_at_ms=sampled_at_ms, windows=windows
    )


def window_after_observation(
    previous: PartitionWindow | None,
    *,
    topic: str,
    partition: int,
    committed_offset: int,
    high_watermark: int | None,
    group_active: bool,
    sampled_at_ms: int,
    window_size: int,
    owner: str = "",
    client_id: str = "",
) -> PartitionWindow:
    """The window after one observation of a partition (the rule in this module's docstring).

    Lag is the high watermark minus the offset, and 0 when the offset is ahead of it: a watermark
    can read low (tansu after a multi-record batch; any broker between two reads), as Burrow allows.
    """
    lag = None if high_watermark is None else max(0, high_watermark - committed_offset)
    commits = list(previous.commits) if previous else []
    broker_offsets = list(previous.broker_offsets) if previous else []
    if not commits or commits[-1]["offset"] != committed_offset or group_active:
        commits.append(Commit(offset=committed_offset, timestamp_ms=sampled_at_ms, lag=lag))
    if high_watermark is not None:
        broker_offsets.append(high_watermark)
    return PartitionWindow(
        topic=topic,
        partition=partition,
        commits=commits[-window_size:],
        broker_offsets=broker_offsets[-window_size:],
        current_lag=lag,
        owner=owner,
        client_id=client_id,
    )
