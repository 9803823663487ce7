from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from events.fields import JSONDocumentField


class OutboxMessage(models.Model):
    """An event written in the same transaction as the change that caused it; the relay publishes it.

    `message` is the whole envelope (metadata + data) exactly as it goes to Kafka.
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

    class Meta:
        indexes = [
            # The relay's claim query reads only this small partial index.
            models.Index(fields=["id"], condition=Q(published_at__isnull=True), name="outbox_unpublished_idx"),
            models.Index(fields=["published_at"], condition=Q(published_at__isnull=False), name="outbox_published_idx"),
            # The refund page's events of an order; exact matches only, so no pattern-ops twin.
            models.Index(fields=["key"], name="outbox_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.eid}"


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


class ProducerCredential(models.Model):
    """A team's key to the events-bus gateway: which event types it may publish.

    Only the SHA-256 of the token is stored: a token is 256 random bits, so a fast hash is enough and
    keeps authentication cheap on every request. The token itself is shown once, when it is issued.
    """

    name = models.CharField(max_length=100, unique=True, help_text="The producing system, e.g. bob-ru.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, editable=False, help_text="The start of the token, to tell tokens apart; not a secret."
    )
    event_types = models.JSONField(default=list, help_text="Names of the event types it may publish.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    token_issued_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def may_publish(self, event_type: str) -> bool:
        return self.is_active and event_type in self.event_types


class ResponseExpectation(models.Model):
    """A command-like event sent and the response it waits for (the specification names both).

    Opened by the outbox in the transaction that writes the command; answered by the consumer in the
    transaction that records the response. An open one past its deadline is overdue: the periodic
    check marks it once (``overdue_at``) and tells the apps (events.expectations.expectation_overdue).
    """

    command_eid = models.UUIDField(unique=True)
    command_type = models.CharField(max_length=100)
    response_type = models.CharField(max_length=100)
    # The spec's correlation field (e.g. refund_id) and its value in the command; "" when it names none.
    correlation_field = models.CharField(max_length=100, blank=True)
    correlation_value = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=200)  # the command's Kafka key (the order number)
    country = models.CharField(max_length=2, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)  # when the outbox took the command
    deadline = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    response_eid = models.UUIDField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)  # when the check first found it overdue

    class Meta:
        indexes = [
            # The consumer's lookup of what a response answers, among the open ones only.
            models.Index(
                fields=["response_type", "correlation_value"],
                condition=Q(answered_at__isnull=True),
                name="expectation_open_corr_idx",
            ),
            models.Index(fields=["deadline"], condition=Q(answered_at__isnull=True), name="expectation_open_due_idx"),
            models.Index(fields=["sent_at"], name="expectation_sent_at_idx"),
            # Partial: a command's expectation is written open, and every query on it names a time.
            models.Index(
                fields=["answered_at"], condition=Q(answered_at__isnull=False), name="expectation_answered_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command_type} {self.command_eid} awaits {self.response_type}"

    @property
    def answered_late(self) -> bool:
        return self.answered_at is not None and self.answered_at > self.deadline
