"""Reads, in one pass, what the lag sampler needs from the cluster: every consumer group's state,
committed offsets and partition owners, and the high watermark of every partition they commit on."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from events.messaging.kafka import admin_client

logger = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]

# A group with members can commit; an Empty or Dead one cannot. UNKNOWN (the group could not be
# described) is not counted as active, so the sampler never invents commits it cannot prove.
ACTIVE_GROUP_STATES = frozenset(
    {ConsumerGroupState.STABLE, ConsumerGroupState.PREPARING_REBALANCING, ConsumerGroupState.COMPLETING_REBALANCING}
)


@dataclass(frozen=True, slots=True)
class GroupOffsets:
    group: str
    state: ConsumerGroupState
    committed: dict[TopicPartitionKey, int] | None  # None: the group's offsets could not be read this pass
    owners: dict[TopicPartitionKey, tuple[str, str]]  # (host, client_id) of the member assigned the partition

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_GROUP_STATES


@dataclass(frozen=True, slots=True)
class ClusterOffsets:
    groups: list[GroupOffsets]
    high_watermarks: dict[TopicPartitionKey, int]  # partitions whose watermark could not be read are absent


def read_cluster_offsets(*, timeout_seconds: float) -> ClusterOffsets:
    """Raises KafkaException unless every group could be listed; narrower failures are logged, and
    leave out what they concern (a group's state, its offsets, a partition's high watermark)."""
    admin = admin_client()
    listing = admin.list_consumer_groups(request_timeout=timeout_seconds).result()
    if listing.errors:
        # A partial listing would read as groups that vanished, and their windows would be dropped.
        raise KafkaException(listing.errors[0])
    group_ids = sorted({group.group_id for group in listing.valid if group.group_id})
    if not group_ids:
        return ClusterOffsets(groups=[], high_watermarks={})
    descriptions = admin.describe_consumer_groups(group_ids, request_timeout=timeout_seconds)
    offset_requests = {
        group_id: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout_seconds
        )[group_id]
        for group_id in group_ids
    }
    groups = []
    for group_id in group_ids:
        state, owners = _describe(group_id, descriptions[group_id])
        groups.append(GroupOffsets(group_id, state, _committed(group_id, offset_requests[group_id]), owners))
    partitions = {key for group in groups for key in (group.committed or {})}
    return ClusterOffsets(groups=groups, high_watermarks=_high_watermarks(admin, partitions, timeout_seconds))


def _describe(group_id: str, future: Future) -> tuple[ConsumerGroupState, dict[TopicPartitionKey, tuple[str, str]]]:
    try:
        description = future.result()
    except KafkaException as exc:
        logger.warning("describing consumer group %r: %s", group_id, exc)
        return ConsumerGroupState.UNKNOWN, {}
    owners = {
        (tp.topic, tp.partition): (member.host, member.client_id)
        for member in description.members
        for tp in (member.assignment.topic_partitions if member.assignment else [])
    }
    return description.state, owners


def _committed(group_id: str, future: Future) -> dict[TopicPartitionKey, int] | None:
    try:
        result = future.result()
    except KafkaException as exc:
        logger.warning("reading committed offsets of consumer group %r: %s", group_id, exc)
        return None
    # A negative offset is "nothing committed" (OFFSET_INVALID), not a position.
    return {
        (tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.error is None and tp.offset >= 0
    }


def _high_watermarks(
    admin: AdminClient, partitions: set[TopicPartitionKey], timeout_seconds: float
) -> dict[TopicPartitionKey, int]:
    if not partitions:
        return {}
    futures = admin.list_offsets(
        {TopicPartition(topic, partition): OffsetSpec.latest() for topic, partition in partitions},
        request_timeout=timeout_seconds,
    )
    watermarks = {}
    for tp, future in futures.items():
        try:
            watermarks[(tp.topic, tp.partition)] = future.result().offset
        except KafkaException as exc:
            logger.warning("reading the high watermark of %s[%d]: %s", tp.topic, tp.partition, exc)
    return watermarks
