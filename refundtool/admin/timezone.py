"""The admin shows times in the business time zone, as the reports do."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class BusinessTimeZoneMiddleware:
    """Activates REFUNDTOOL_BUSINESS_TIME_ZONE for the admin's pages (the APIs keep answering in UTC).

    Support compares what the admin shows with what accountants download and with what customers
    say, all in business time; the database and the events stay in UTC.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        timezone.activate(ZoneInfo(settings.REFUNDTOOL_BUSINESS_TIME_ZONE))  # ZoneInfo caches its instances
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
