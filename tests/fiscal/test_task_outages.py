"""A fiscal task that finds the database down waits it out (a retry with backoff) instead of failing:
the receipt is still owed."""

from __future__ import annotations

import uuid

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.db import OperationalError

from fiscalization.tasks import poll_receipt, register_receipt, settle_refund
from tests.support.database import database_down

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("task", "argument"),
    [(register_receipt, 1), (poll_receipt, 1), (settle_refund, str(uuid.uuid4()))],
    ids=["register", "poll", "settle"],
)
def test_a_database_outage_is_retried_not_failed(task, argument, monkeypatch):
    # As in a worker: not eager (eager retries recurse in place, for ever with max_retries=None). The
    # retry's new message is kept here instead of being sent to the broker, where no test consumes it.
    resent: list[dict] = []
    monkeypatch.setattr(task, "apply_async", lambda *args, **options: resent.append(options))
    task.push_request(retries=3, called_directly=False, is_eager=False)
    try:
        with database_down(), pytest.raises(Retry) as retry:
            task.run(argument)
    finally:
        task.pop_request()

    assert isinstance(retry.value.exc, OperationalError)
    assert task.max_retries is None
    assert len(resent) == 1
    assert 0 < resent[0]["countdown"] <= settings.FISCAL_RETRY_BACKOFF_MAX_SECONDS
