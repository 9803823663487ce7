"""In-process Prometheus metrics of the events-bus gateway's publish requests."""

from prometheus_client import Counter, Histogram

GATEWAY_REQUESTS = Counter(
    "refundtool_gateway_requests_total",
    "Publish requests to the events-bus gateway by event type (unknown for a type not in the spec) and HTTP status.",
    ["event_type", "status"],
)
GATEWAY_EVENTS = Counter(
    "refundtool_gateway_events_total",
    "Events of publish requests by event type and outcome (submitted, failed, aborted).",
    ["event_type", "outcome"],
)
GATEWAY_REQUEST_SECONDS = Histogram(
    "refundtool_gateway_request_seconds",
    "Time to answer one publish request, broker acknowledgements included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
