"""django.request logs every 4xx answer at WARNING; for the gateway that is the wrong level.

A producer's malformed body, invalid event or bad token is the producer's mistake, answered in full
in the response body, and one misbehaving producer would otherwise flood the warnings that on-call
engineers watch. The gateway's own INFO line (events.gateway.services) already names the producer.
"""

from __future__ import annotations

import logging

GATEWAY_NAMESPACE = "events_gateway"


class GatewayClientErrorsAtInfo(logging.Filter):
    """On the django.request logger: a gateway 4xx becomes an INFO record; everything else is untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        if (
            record.levelno != logging.WARNING
            or not isinstance(status, int)
            or not 400 <= status < 500
            or match is None
            or match.namespace != GATEWAY_NAMESPACE
        ):
            return True
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        # The logger let the record through as a WARNING; as INFO it must pass the level set for it.
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)
