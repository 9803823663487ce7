"""System checks of refundtool's settings (`manage.py check` and every process start run them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

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
