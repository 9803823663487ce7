"""What on-call monitoring keeps in the database: flags raised on things that need a look, and the
history behind the monitoring page's charts."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Flag(models.Model):
    """Something about one subject (e.g. a refund) that on-call or support should look at.

    A flag changes nothing about its subject: it is raised by a periodic check and cleared when the
    check finds the condition gone; the cleared row stays as history. A subject has at most one open
    flag of a kind, so raising one again is a no-op.
    """

    subject_type = models.CharField(max_length=50)  # e.g. "refund"
    subject_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=50)  # e.g. "stuck", "payment_unanswered"
    detail = models.TextField()
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    clear_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "kind"],
                condition=Q(cleared_at__isnull=True),
                name="flag_one_open_per_subject_and_kind",
            )
        ]
        indexes = [
            models.Index(fields=["subject_type", "kind"], condition=Q(cleared_at__isnull=True), name="flag_open_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="flag_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type} {self.subject_id}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class Sample(models.Model):
    """One point of a time series the monitoring page draws (e.g. refunds in a state, a group's lag)."""

    series = models.CharField(max_length=64)
    label = models.CharField(max_length=200)  # which line of the series: a state, a consumer group
    value = models.FloatField()
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["series", "at"], name="sample_series_at_idx")]

    def __str__(self) -> str:
        return f"{self.series}[{self.label}]={self.value} at {self.at.isoformat()}"


class ResponseExpectation(models.Model):
    """A command-like event sent and the response it waits for (the specification names both).

    Opened by the outbox in the transaction that writes the command; answered by the consumer in the
    transaction that records the response. An open one past its deadline is overdue: the periodic
    check marks it once (``overdue_at``) and tells the apps (events.monitoring.expectations.expectation_overdue).
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
        # Born in the events app: its table and migrations stay there, so no data moves.
        app_label = "events"
        # events.monitoring.access: what a staff user needs for the ops endpoints. Declared on this
        # model because every permission belongs to one; it covers all of monitoring's figures.
        permissions = [("view_monitoring", "Can read /metrics, /monitoring/* and the details of /readyz")]
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
