"""The messaging runtime's tables: outbox, inbox and what operators decided about dead letters."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models
from django.db.models import Q
from django.utils import timezone

from events.messaging.fields import JSONDocumentField


class OutboxMessage(models.Model):
    """An event written in the same transaction as the change that caused it; the relay publishes it.

    `message` is the whole envelope (metadata + data) exactly as it goes to Kafka. A row the broker
    refused for good is parked (`failed_at`, with the refusal in `last_error`): the relay leaves it
    and every later row of its key until an operator retries or skips it (events.messaging.parking).
    """

    eid = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=100)
    version = models.PositiveSmallIntegerField()
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    message = JSONDocumentField()
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The relay's claim query reads only this small partial index.
            models.Index(fields=["id"], condition=Q(published_at__isnull=True), name="outbox_unpublished_idx"),
            # Parked rows: a handful at most, looked up by key for every claimed row.
            models.Index(fields=["key", "id"], condition=Q(failed_at__isnull=False), name="outbox_parked_idx"),
            models.Index(fields=["published_at"], condition=Q(published_at__isnull=False), name="outbox_published_idx"),
            # The refund page's events of an order; exact matches only, so no pattern-ops twin.
            models.Index(fields=["key"], name="outbox_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.eid}"


class OutboxDecision(models.Model):
    """What an operator did with a parked outbox row: append-only, and it outlives the row.

    A skipped row is deleted from the outbox, so the decision keeps a copy of what was not sent.
    """

    class Action(models.TextChoices):
        RETRY = "retry"
        SKIP = "skip"

    eid = models.UUIDField()
    event_type = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    message = models.JSONField()
    refusal = models.TextField()
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.CharField(max_length=150)
    reason = models.TextField()
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="outbox_decision_has_reason")]
        indexes = [models.Index(fields=["eid"], name="outbox_decision_eid_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.event_type} {self.eid}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise IntegrityError("outbox decisions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise IntegrityError("outbox decisions are append-only")


class InboxMessage(models.Model):
    """A consumed event, recorded in the transaction of its effect: a redelivered eid is a no-op."""

    eid = models.UUIDField()
    group = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.CharField(max_length=200)
    message = JSONDocumentField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["eid", "group"], name="inbox_eid_group_unique")]
        indexes = [models.Index(fields=["key"], name="inbox_key_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.eid} ({self.group})"


class DeadLetterDecision(models.Model):
    """What an operator did with a dead letter. The dead letter itself stays in its Kafka topic."""

    class Action(models.TextChoices):
        REPLAY = "replay"
        DISCARD = "discard"

    dlq_topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.CharField(max_length=150)
    reason = models.TextField()
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dlq_topic", "partition", "offset"], name="dead_letter_decided_once"),
            models.CheckConstraint(condition=~Q(reason=""), name="dead_letter_decision_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.dlq_topic}[{self.partition}]@{self.offset}"
