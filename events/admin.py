"""The events app's admin pages live in their rooms; Django's autodiscovery imports them from here."""

from events.gateway import admin as _gateway_admin  # noqa: F401
from events.messaging import admin as _messaging_admin  # noqa: F401
