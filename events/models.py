"""The events app's models, each defined in the room that owns it; Django loads them from here.

Import them from their rooms: events.messaging.models (outbox, decisions on parked outbox rows,
inbox, dead-letter decisions), events.gateway.models (producer credentials), events.monitoring.models
(response expectations).
"""

from events.gateway.models import ProducerCredential
from events.messaging.models import DeadLetterDecision, InboxMessage, OutboxDecision, OutboxMessage
from events.monitoring.models import ResponseExpectation

__all__ = [
    "DeadLetterDecision",
    "InboxMessage",
    "OutboxDecision",
    "OutboxMessage",
    "ProducerCredential",
    "ResponseExpectation",
]
