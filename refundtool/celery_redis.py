"""Kombu's Redis transport with one race closed: a worker that loses Redis while it holds tasks must
not exit.

When the connection to Redis drops, kombu closes it (Connection.close sets the transport's client
to None) and then, closing the channel, gives the unacknowledged tasks back to Redis. If the channel's
connection pool is gone by then, making a new one reads ``connection.client.hostname`` and raises
AttributeError (kombu #582, still in kombu 5.7). Celery treats that as "Unrecoverable error" and the
worker exits: bench.faults saw it when Redis went away mid-run. Here the same moment raises Redis's
ConnectionError, one of the transport's connection errors, which Celery ignores while closing and
recovers from by reconnecting. The tasks it could not give back stay in Redis's unacked set, which
the next connection restores after the visibility timeout (and the fiscal sweep sends lost receipt
tasks again long before that).
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the connection to Redis was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
