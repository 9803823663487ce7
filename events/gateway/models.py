"""The gateway's table: producer credentials."""

from __future__ import annotations

from django.db import models


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
