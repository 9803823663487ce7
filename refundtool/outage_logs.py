"""One log line per dependency outage, also from the parts of Celery that log one per retry.

The worker logs "Cannot connect to redis://..." at every reconnection attempt, and beat logs
"Connection error" at every one (at start) or "Couldn't apply scheduled task", with a traceback, for
every task it cannot send (later): a Redis outage of an hour fills the log with hundreds of lines that
say nothing new, and buries what does. This filter (on the console handler) lets the first line of
an outage through, marked as such, drops its repeats, and lets through the line that ends it ("Connected
to ..."). Beat logs nothing when it reconnects, so the first task it sends after an outage ends it
(``beat_sent_a_task``, on Celery's after_task_publish signal); a quiet spell of QUIET_SECONDS ends any
outage whose end went unseen.
"""

from __future__ import annotations

import logging
import re
import time

logger = logging.getLogger("celery.beat")

QUIET_SECONDS = 120.0
_OUTAGES = {
    "worker-broker": re.compile(r"consumer: (Cannot connect to|Connection to broker lost)"),
    "beat-broker": re.compile(r"beat: Connection error|Message Error: Couldn't apply scheduled task"),
}
_RECOVERED = {"worker-broker": re.compile(r"Connected to \S+://")}
# When each ongoing outage of this process was last seen: one process, one console handler, one filter.
_last_seen: dict[str, float] = {}


class OncePerOutage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("celery"):
            return True
        message = record.getMessage()
        now = time.monotonic()
        for outage, recovered in _RECOVERED.items():
            if outage in _last_seen and recovered.match(message):
                del _last_seen[outage]
                record.msg, record.args = f"{message} (the outage is over)", ()
                return True
        for outage, pattern in _OUTAGES.items():
            if pattern.match(message):
                ongoing = now - _last_seen.get(outage, -QUIET_SECONDS) < QUIET_SECONDS
                _last_seen[outage] = now
                if ongoing:
                    return False
                record.msg, record.args = f"{message.rstrip()} (retrying without a limit; repeats are not logged)", ()
                return True
        return True


def beat_sent_a_task(**kwargs: object) -> None:
    """A receiver of after_task_publish: in beat, the first task sent after an outage ends it."""
    if _last_seen.pop("beat-broker", None) is not None:
        logger.warning("beat: sent a scheduled task again (the outage is over)")
