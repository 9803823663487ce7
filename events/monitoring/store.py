"""Where the lag sampler keeps its windows: the Django cache, which is Redis whenever REDIS_URL is set
(the file cache of a local run otherwise).

One entry per group holds the windows of all its partitions and the state the group was in; an index
names the groups of the last pass and when it ran. One sampler writes at a time (``sampling_lock``);
readers may read while it writes, and see either the previous pass or the new one for each group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from events.monitoring.lag import Commit, PartitionWindow

INDEX_KEY = "lag:index"
LOCK_KEY = "lag:sampling-lock"


@dataclass(frozen=True, slots=True)
class GroupWindows:
    group: str
    state: str
    sampled_at_ms: int
    windows: list[PartitionWindow]


@dataclass(frozen=True, slots=True)
class LagIndex:
    sampled_at_ms: int
    groups: list[str]


def _group_key(group: str) -> str:
    # Group ids may hold any character; cache keys must stay short and plain.
    return "lag:group:" + hashlib.sha256(group.encode()).hexdigest()[:40]


def load_index() -> LagIndex | None:
    raw = cache.get(INDEX_KEY)
    return None if raw is None else LagIndex(sampled_at_ms=raw["sampled_at_ms"], groups=list(raw["groups"]))


def load_group(group: str) -> GroupWindows | None:
    raw = cache.get(_group_key(group))
    return None if raw is None or raw["group"] != group else _group_from_raw(raw)


def load_groups(groups: list[str]) -> list[GroupWindows]:
    found = cache.get_many([_group_key(group) for group in groups])
    return [_group_from_raw(raw) for raw in found.values()]


def save_pass(*, sampled_at_ms: int, groups: list[GroupWindows], dropped: list[str]) -> None:
    cache.set_many({_group_key(group.group): _group_to_raw(group) for group in groups}, timeout=None)
    if dropped:
        cache.delete_many([_group_key(group) for group in dropped])
    cache.set(INDEX_KEY, {"sampled_at_ms": sampled_at_ms, "groups": sorted(g.group for g in groups)}, timeout=None)


@contextmanager
def sampling_lock(*, timeout_seconds: int) -> Iterator[bool]:
    """True when this pass may run. The timeout frees the lock of a pass that died mid-way."""
    acquired = cache.add(LOCK_KEY, "held", timeout=timeout_seconds)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(LOCK_KEY)


def _group_to_raw(group: GroupWindows) -> dict[str, Any]:
    return {
        "group": group.group,
        "state": group.state,
        "sampled_at_ms": group.sampled_at_ms,
        "partitions": [
            {
                "topic": w.topic,
                "partition": w.partition,
                "owner": w.owner,
                "client_id": w.client_id,
                "commits": [dict(commit) for commit in w.commits],
                "broker_offsets": list(w.broker_offsets),
                "current_lag": w.current_lag,
            }
            for w in group.windows
        ],
    }


def _group_from_raw(raw: dict[str, Any]) -> GroupWindows:
    return GroupWindows(
        group=raw["group"],
        state=raw["state"],
        sampled_at_ms=raw["sampled_at_ms"],
        windows=[
            PartitionWindow(
                topic=p["topic"],
                partition=p["partition"],
                owner=p["owner"],
                client_id=p["client_id"],
                commits=[
                    Commit(offset=c["offset"], timestamp_ms=c["timestamp_ms"], lag=c["lag"]) for c in p["commits"]
                ],
                broker_offsets=list(p["broker_offsets"]),
                current_lag=p["current_lag"],
            )
            for p in raw["partitions"]
        ],
    )
