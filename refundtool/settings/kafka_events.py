"""Kafka, the event runtime (consumer, outbox, inbox), the gateway, consumer lag and on-call monitoring."""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

from refundtool.settings.base import DEBUG
from refundtool.settings.env import env_int, env_list, env_seconds_by_name, env_str

# --- Kafka ----------------------------------------------------------------------------------
EMBEDDED_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
KAFKA_BOOTSTRAP_SERVERS = env_str("KAFKA_BOOTSTRAP_SERVERS", EMBEDDED_KAFKA_BOOTSTRAP)
# Extra librdkafka settings (SASL, TLS) as "key=value;key=value".
KAFKA_CLIENT_CONFIG = dict(
    item.split("=", 1) for item in os.environ.get("KAFKA_CLIENT_CONFIG", "").split(";") if "=" in item
)
# tansu assigns a new group only after half the session timeout; 6 s keeps local start-up quick.
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 6000 if DEBUG else 45000)
# The name the lag endpoints and gauges give this cluster (Burrow's "cluster").
KAFKA_CLUSTER_NAME = env_str("KAFKA_CLUSTER_NAME", "local")
KAFKA_TOPIC_PARTITIONS = env_int("KAFKA_TOPIC_PARTITIONS", 6)
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1 if DEBUG else 3)
# The largest record a topic takes: ensure_topics gives every topic this max.message.bytes, producers
# refuse larger records themselves, and a refund request whose events could not fit is refused when
# it is validated. Kafka's default; raise it together with the topics' configuration.
REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES = env_int("REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES", 1048588, minimum=4096)

# --- Consumer lag (Burrow's rules) ----------------------------------------------------------
LAG_SAMPLE_INTERVAL_SECONDS = env_int("LAG_SAMPLE_INTERVAL_SECONDS", 10, minimum=1)
LAG_WINDOW_SAMPLES = env_int("LAG_WINDOW_SAMPLES", 10, minimum=2)

# --- Events-bus gateway --------------------------------------------------------------------
EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS = env_int("EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS", 10000)
# How long a request's events may wait to go out with those of other requests of the process
# (events.gateway.publisher); a request alone in its process sends at once.
EVENTS_GATEWAY_LINGER_MS = env_int("EVENTS_GATEWAY_LINGER_MS", 3)
EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = env_int("EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS", 5)
# Requests a producer credential may send per window (0: no limit); counted in the cache (Redis).
EVENTS_GATEWAY_RATE_LIMIT = env_int("EVENTS_GATEWAY_RATE_LIMIT", 12000, minimum=0)
EVENTS_GATEWAY_RATE_WINDOW_SECONDS = env_int("EVENTS_GATEWAY_RATE_WINDOW_SECONDS", 60, minimum=1)

# --- Event runtime --------------------------------------------------------------------------
REFUNDTOOL_CONSUMER_GROUP = env_str("REFUNDTOOL_CONSUMER_GROUP", "refundtool")
REFUNDTOOL_CONSUMER_BATCH_SIZE = env_int("REFUNDTOOL_CONSUMER_BATCH_SIZE", 500)
# How long a message whose handler asks to retry (e.g. a payment result before its refund) may wait.
REFUNDTOOL_CONSUMER_RETRY_WINDOW_SECONDS = env_int("REFUNDTOOL_CONSUMER_RETRY_WINDOW_SECONDS", 60)
# Attempts of a handler that raises an unexpected error before the message is dead-lettered.
REFUNDTOOL_CONSUMER_HANDLER_ATTEMPTS = env_int("REFUNDTOOL_CONSUMER_HANDLER_ATTEMPTS", 3)
# Consumed events stay in the inbox this long (redeliveries after that find the effect itself
# idempotent: refunds by refund_request_id, payment results by their content); then beat deletes them.
REFUNDTOOL_INBOX_RETENTION_HOURS = env_int("REFUNDTOOL_INBOX_RETENTION_HOURS", 336, minimum=1)
REFUNDTOOL_OUTBOX_BATCH_SIZE = env_int("REFUNDTOOL_OUTBOX_BATCH_SIZE", 500)
REFUNDTOOL_OUTBOX_RETENTION_HOURS = env_int("REFUNDTOOL_OUTBOX_RETENTION_HOURS", 72)
# The event types whose version 1 refundtool still publishes beside version 2 while their readers
# migrate (README, "Version 2 of the refund contracts"); empty once every reader has moved. Version 2
# is always published. item_ready_to_refund v1 goes out only for a refund of one tender.
REFUNDTOOL_PUBLISH_V1_EVENTS = env_list("REFUNDTOOL_PUBLISH_V1_EVENTS", "refund.item_ready_to_refund,refund.update")
# On SQLite there is no LISTEN/NOTIFY: the relay polls this often.
REFUNDTOOL_OUTBOX_POLL_INTERVAL_MS = env_int("REFUNDTOOL_OUTBOX_POLL_INTERVAL_MS", 100)
# How long the relay's producer tries to deliver a row before it counts as a transient failure.
REFUNDTOOL_OUTBOX_DELIVERY_TIMEOUT_MS = env_int("REFUNDTOOL_OUTBOX_DELIVERY_TIMEOUT_MS", 15000, minimum=1000)
# Fault injection for crash tests: the relay sleeps this long between publishing and marking.
REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS = env_int("REFUNDTOOL_OUTBOX_FAULT_PAUSE_BEFORE_MARK_MS", 0)

# --- On-call monitoring: unanswered commands, history ------------------------------------------
# A command's response is due within its spec's timeout; "refund.item_ready_to_refund=60" overrides it.
REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS = env_seconds_by_name("REFUNDTOOL_RESPONSE_TIMEOUT_SECONDS", {})
REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS = env_int("REFUNDTOOL_RESPONSE_CHECK_INTERVAL_SECONDS", 30, minimum=1)
# The periodic check compares commands sent with responses received over this window.
REFUNDTOOL_RESPONSE_WINDOW_SECONDS = env_int("REFUNDTOOL_RESPONSE_WINDOW_SECONDS", 300, minimum=1)
REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS = env_int(
    "REFUNDTOOL_RESPONSE_EXPECTATION_RETENTION_HOURS", 168, minimum=1
)
# How often the stuck check, the refund-state history and the lag history run, and how long history is kept.
REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS = env_int("REFUNDTOOL_MONITORING_SAMPLE_INTERVAL_SECONDS", 60, minimum=1)
REFUNDTOOL_MONITORING_HISTORY_HOURS = env_int("REFUNDTOOL_MONITORING_HISTORY_HOURS", 48, minimum=1)
# SHA-256 (hex) of each scrape token that may read /metrics, /monitoring/* and /readyz's details;
# several, so a new token can be rolled out before the old one is dropped. `manage.py scrape_token`.
REFUNDTOOL_SCRAPE_TOKEN_SHA256 = frozenset(digest.lower() for digest in env_list("REFUNDTOOL_SCRAPE_TOKEN_SHA256", ""))
if any(not re.fullmatch(r"[0-9a-f]{64}", digest) for digest in REFUNDTOOL_SCRAPE_TOKEN_SHA256):
    raise ImproperlyConfigured(
        "REFUNDTOOL_SCRAPE_TOKEN_SHA256 must list SHA-256 digests (64 hex digits), comma-separated"
    )
