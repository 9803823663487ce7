"""The worker's Redis transport turns kombu's closed-connection race into a connection error, which
Celery recovers from, instead of the AttributeError that made the worker exit."""

from __future__ import annotations

import pytest
from django.conf import settings
from kombu import Connection
from kombu.common import ignore_errors

from refundtool.celery import app


@pytest.mark.parametrize(("transport", "survives"), [("redis", False), ("refundtool.celery_redis:Transport", True)])
def test_giving_tasks_back_after_the_connection_closed(redis_client, transport, survives):
    connection = Connection(settings.REDIS_URL, transport=transport)
    channel = connection.channel()
    channel._pool = None  # as after the socket dropped
    connection.transport.client = None  # what kombu's Connection.close does first

    def give_back() -> None:
        with channel.conn_or_acquire():
            pass

    if survives:
        ignore_errors(connection, give_back)  # Celery's way of closing: connection errors are ignored
    else:
        with pytest.raises(AttributeError, match="hostname"):
            ignore_errors(connection, give_back)


def test_the_worker_uses_it_with_redis():
    assert app.conf.broker_transport == "refundtool.celery_redis:Transport"
