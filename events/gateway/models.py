"""The gateway's table: producer credentials."""

from __future__ import annotations

from django.db import models


class ProducerCredential(models.Model):
    """A team's key to the events-bus gateway: which event types it may publish, and for which countries.

    Its events are its own: each must name the credential as metadata.producer, so the audit trail
    names the credential (refundtool's actor gateway:<name>).

    Only the SHA-256 of the token is stored: a token is 256 random bits, so a fast hash is enough and
    keeps authentication cheap on every request. The token itself is shown once, when it is issued.
    """

    # 64: every event it publishes carries the name as metadata.producer (the envelope's limit).
    name = models.CharField(
        max_length=64,
        unique=True,
        help_text="The producing system, e.g. bob-ru: its events must carry it as metadata.producer.",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, editable=False, help_text="The start of the token, to tell tokens apart; not a secret."
    )
    event_types = models.JSONField(default=list, help_text="Names of the event types it may publish.")
    countries = models.JSONField(
        default=list,
        blank=True,
        help_text="Countries it may publish events for (metadata.country and data.country); empty: every country.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    token_issued_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def may_publish(self, event_type: str) -> bool:
        return self.is_active and event_type in self.event_types

    def may_publish_for(self, country: object) -> bool:
        return not self.countries or country in self.countries
