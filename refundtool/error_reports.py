"""What Django's error pages and error e-mails may show of the settings and the environment."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class ReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus the names that carry credentials inside a connection string.

    DATABASE_URL, REDIS_URL and CELERY_BROKER_URL hold passwords in their URLs, and a cache's
    LOCATION is such a URL too; Django's own pattern (API, AUTH, TOKEN, KEY, SECRET, PASS, ...)
    matches none of them, so a debug page or an error report would print them in full.
    """

    hidden_settings = re.compile(f"{SafeExceptionReporterFilter.hidden_settings.pattern}|URL|DSN|LOCATION", flags=re.I)
