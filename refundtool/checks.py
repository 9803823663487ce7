"""System checks of refundtool's settings (`manage.py check` and every process start run them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from events.contracts.specification import all_event_specs
from refundtool.countries import COUNTRIES


def check_served_countries(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every country in REFUNDTOOL_COUNTRIES must be in the country table."""
    unknown = [code for code in settings.REFUNDTOOL_COUNTRIES if code not in COUNTRIES]
    if not unknown:
        return []
    return [
        checks.Error(
            f"REFUNDTOOL_COUNTRIES names {', '.join(unknown)}, which refundtool.countries does not know",
            hint=f"Known countries: {', '.join(COUNTRIES)}. Add the country to COUNTRIES before serving it.",
            id="refundtool.E001",
        )
    ]


def check_published_v1_events(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """REFUNDTOOL_PUBLISH_V1_EVENTS may name only refundtool's events that have a version 1 and a
    version 2: a misspelt name would silently stop version 1 for readers that still need it."""
    both = sorted(
        name
        for name in {spec.name for spec in all_event_specs() if spec.owner == "refundtool"}
        if {1, 2} <= {spec.version for spec in all_event_specs() if spec.name == name}
    )
    unknown = [name for name in settings.REFUNDTOOL_PUBLISH_V1_EVENTS if name not in both]
    if not unknown:
        return []
    return [
        checks.Error(
            f"REFUNDTOOL_PUBLISH_V1_EVENTS names {', '.join(unknown)}, which is not an event refundtool "
            "publishes in versions 1 and 2",
            hint=f"Name some of: {', '.join(both)}; or leave it empty once every reader has moved to version 2.",
            id="refundtool.E002",
        )
    ]
