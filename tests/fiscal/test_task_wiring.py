"""The Celery wiring the worker fleet relies on: the fiscal queue, late acks, the beat sweep."""

import pytest
from django.conf import settings

from refundtool.celery import app

FISCAL_TASKS = [
    "fiscalization.register_receipt",
    "fiscalization.poll_receipt",
    "fiscalization.settle_refund",
    "fiscalization.sweep_receipts",
]


@pytest.mark.parametrize("name", FISCAL_TASKS)
def test_every_fiscal_task_goes_to_the_fiscal_queue_and_is_acked_late(name):
    app.loader.import_default_modules()
    assert app.amqp.router.route({}, name)["queue"].name == "fiscal"
    assert app.tasks[name].acks_late


def test_beat_sweeps_every_30_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["fiscal-sweep"]
    assert entry == {"task": "fiscalization.sweep_receipts", "schedule": 30.0}
