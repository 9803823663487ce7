"""The folders local state lives in (REFUNDTOOL_VAR_DIR), made when the refundtool app starts.

Reading the settings writes nothing; every process starts its Django apps before it touches the
SQLite file, the file cache, Celery's folder queue or the static files, so it makes them here.
"""

from __future__ import annotations

from django.conf import settings


def local_dirs_ensure() -> None:
    folders = [settings.REFUNDTOOL_VAR_DIR, settings.STATIC_ROOT]
    if not settings.REDIS_URL:
        folders.append(settings.CACHES["default"]["LOCATION"])
        folders += [settings.CELERY_QUEUE_DIR / name for name in ("in", "processed", "control")]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
