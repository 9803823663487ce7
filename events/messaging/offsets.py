"""Reading and moving a consumer group's committed offsets: how on-call moves past a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from events.messaging.kafka import admin_client

ACTIVE_STATES = {
    ConsumerGroupState.STABLE,
    ConsumerGroupState.PREPARING_REBALANCING,
    ConsumerGroupState.COMPLETING_REBALANCING,
}
TIMEOUT = 10


class OffsetResetRefusedError(Exception):
    pass


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing here
    low_watermark: int
    high_watermark: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None else self.low_watermark
        return max(0, self.high_watermark - start)


def group_state(group: str) -> ConsumerGroupState:
    admin = admin_client()  # the client must outlive its futures
    description = admin.describe_consumer_groups([group], request_timeout=TIMEOUT)[group].result()
    return description.state


def group_is_active(group: str) -> bool:
    # Some brokers (tansu) list no members even for a Stable group: the state is what counts.
    return group_state(group) in ACTIVE_STATES


def _watermarks(partitions: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
    if not partitions:
        return {}
    admin = admin_client()
    futures = admin.list_offsets(dict.fromkeys(partitions, spec), request_timeout=TIMEOUT)
    return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}


def topic_partitions(topic: str) -> list[TopicPartition]:
    # Asking for all topics: a request naming one makes some brokers (tansu) create it.
    metadata = admin_client().list_topics(timeout=TIMEOUT)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        raise KafkaException(f"unknown topic {topic}")
    return [TopicPartition(topic, p) for p in sorted(metadata.topics[topic].partitions)]


def committed_offsets(group: str, topics: list[str] | None = None) -> dict[tuple[str, int], int | None]:
    request = ConsumerGroupTopicPartitions(
        group, [tp for topic in topics for tp in topic_partitions(topic)] if topics else None
    )
    admin = admin_client()
    result = admin.list_consumer_group_offsets([request], request_timeout=TIMEOUT)[group].result()
    return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in result.topic_partitions}


def group_offsets(group: str, topics: list[str] | None = None) -> list[PartitionOffsets]:
    committed = committed_offsets(group, topics)
    partitions = [TopicPartition(topic, partition) for topic, partition in sorted(committed)]
    low = _watermarks(partitions, OffsetSpec.earliest())
    high = _watermarks(partitions, OffsetSpec.latest())
    return [
        PartitionOffsets(
            topic, partition, committed[(topic, partition)], low[(topic, partition)], high[(topic, partition)]
        )
        for topic, partition in sorted(committed)
    ]


def offsets_reset(
    *,
    group: str,
    topic: str,
    to_earliest: bool = False,
    to_latest: bool = False,
    to_offset: int | None = None,
    partition: int | None = None,
    to_datetime: datetime | None = None,
    shift: int | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> list[TopicPartition]:
    """Moves the group's committed offsets on one topic; returns the new offsets.

    `dry_run` computes and returns them without moving anything, even while the group is active.
    """
    chosen = [to_earliest, to_latest, to_offset is not None, to_datetime is not None, shift is not None]
    if sum(chosen) != 1:
        raise ValueError("choose exactly one of to_earliest, to_latest, to_offset, to_datetime, shift")
    if (to_offset is None) != (partition is None):
        raise ValueError("to_offset and partition go together")
    if not force and not dry_run and group_is_active(group):
        raise OffsetResetRefusedError(f"group {group} has active members; stop them first or force")
    partitions = topic_partitions(topic)
    if partition is not None:
        partitions = [tp for tp in partitions if tp.partition == partition]
        if not partitions:
            raise ValueError(f"{topic} has no partition {partition}")
    low = _watermarks(partitions, OffsetSpec.earliest())
    high = _watermarks(partitions, OffsetSpec.latest())
    target: dict[tuple[str, int], int]
    if to_earliest:
        target = low
    elif to_latest:
        target = high
    elif to_offset is not None:
        key = (topic, partitions[0].partition)
        if not low[key] <= to_offset <= high[key]:
            raise ValueError(f"offset {to_offset} is outside {topic}[{partition}]'s range {low[key]}..{high[key]}")
        target = {key: to_offset}
    elif to_datetime is not None:
        target = _watermarks(partitions, OffsetSpec.for_timestamp(int(to_datetime.timestamp() * 1000)))
        # A timestamp after the last message answers -1: the group starts at the end.
        target = {key: offset if offset >= 0 else high[key] for key, offset in target.items()}
    else:
        committed = committed_offsets(group, [topic])
        target = {key: (committed.get(key) or low[key]) + (shift or 0) for key in low}
    new = [
        TopicPartition(t, p, min(max(offset, low[(t, p)]), high[(t, p)])) for (t, p), offset in sorted(target.items())
    ]
    if dry_run:
        return new
    admin = admin_client()
    result = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, new)], request_timeout=TIMEOUT)
    result[group].result()
    return new
