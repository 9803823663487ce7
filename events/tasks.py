"""Celery's autodiscovery imports the events app's tasks from here; they live in their rooms.

events.monitoring is an app of its own, so its tasks (events.monitoring.tasks) are found without this.
"""

from events.messaging.tasks import prune_inbox

__all__ = ["prune_inbox"]
