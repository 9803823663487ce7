"""In-process Prometheus metrics of the messaging runtime (each process writes them; /metrics adds them up).

They live in memory on purpose: the failure path must not need the database.
"""

from prometheus_client import Counter, Histogram

EVENTS_CONSUMED = Counter(
    "refundtool_events_consumed_total",
    "Consumed messages by event type and outcome (processed, duplicate, skipped, dead_lettered).",
    ["event_type", "outcome"],
)
EVENTS_DEAD_LETTERED = Counter(
    "refundtool_events_dead_lettered_total", "Messages sent to a dead-letter topic.", ["topic", "error_class"]
)
# By version too: while readers migrate, both versions of an event go out, and the figure that says a
# version may be retired is its readers' lag, not this; this says what is still sent.
EVENTS_PRODUCED = Counter(
    "refundtool_events_produced_total", "Events published by the outbox relay.", ["event_type", "version"]
)
OUTBOX_PARKED = Counter(
    "refundtool_outbox_parked_total", "Outbox rows parked because the broker refused them for good.", ["event_type"]
)
CONSUMER_BATCH_SECONDS = Histogram(
    "refundtool_consumer_batch_seconds",
    "Time to process one polled batch, from poll to offset commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_MESSAGE_SECONDS = Histogram(
    "refundtool_consumer_message_seconds",
    "Processing latency of one message: batch time divided over its messages.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
OUTBOX_PUBLISH_LATENCY = Histogram(
    "refundtool_outbox_publish_latency_seconds",
    "From an outbox row's creation to the broker's acknowledgement.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
