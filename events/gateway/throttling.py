"""Rate limits per producer credential: at most EVENTS_GATEWAY_RATE_LIMIT requests a window.

The count lives in the project's cache (Redis in production), so every web process of every
container adds to one counter per credential and fixed window of EVENTS_GATEWAY_RATE_WINDOW_SECONDS.
The file cache of a local run without Redis counts per machine, and loses a few increments when
processes race: good enough for a developer's machine, not for production.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from events.gateway.errors import GatewayError
from events.gateway.models import ProducerCredential

logger = logging.getLogger(__name__)
_LOG_EVERY_SECONDS = 60.0
_last_logged = -math.inf


def credential_throttle(credential: ProducerCredential) -> None:
    """Counts a request of the credential; GatewayError 429 with Retry-After past the limit."""
    limit = settings.EVENTS_GATEWAY_RATE_LIMIT
    if limit <= 0:
        return
    window = settings.EVENTS_GATEWAY_RATE_WINDOW_SECONDS
    now = time.time()
    window_index = int(now // window)
    count = _count(f"gateway-rate:{credential.pk}:{window_index}", timeout=2 * window)
    if count > limit:
        retry_after = max(1, math.ceil((window_index + 1) * window - now))
        raise GatewayError(
            429,
            "rate_limited",
            f"credential {credential.name!r} may send {limit} requests every {window} s; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _count(key: str, *, timeout: int) -> int:
    """The key's count after adding one. 0 when the cache does not answer: the events bus stays open
    (a rate limit protects it; it must not take it down), and that is logged once a minute."""
    global _last_logged
    try:
        try:
            return cache.incr(key)
        except ValueError:  # the window's first request; the key outlives the window, so it never restarts
            return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)
    except Exception as exc:  # noqa: BLE001 - any failure of the cache leaves the gateway unthrottled
        if time.monotonic() - _last_logged > _LOG_EVERY_SECONDS:
            _last_logged = time.monotonic()
            logger.warning("gateway rate limits are off: the cache does not answer (%s)", type(exc).__name__)
        return 0
