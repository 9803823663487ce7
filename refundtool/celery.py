"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import logging.config
import os

from celery import Celery
from celery.signals import after_task_publish, setup_logging

from refundtool.outage_logs import beat_sent_a_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundtool.settings")

app = Celery("refundtool")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
after_task_publish.connect(beat_sent_a_task, weak=False)


@setup_logging.connect
def keep_project_logging(**kwargs: object) -> None:
    """The worker and beat log through the project's LOGGING, like every other process.

    Without a receiver of this signal Celery replaces the root logger's handlers with its own, and
    the personal-data mask (refundtool.logging) is gone from every line of the worker and beat.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
