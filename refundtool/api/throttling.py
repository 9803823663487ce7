"""Rate limits of the REST API, counted per credential (DRF throttling)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from knox.models import AuthToken
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_THROTTLE_CLASSES) as it loads
    from rest_framework.request import Request
    from rest_framework.views import APIView


class CredentialRateThrottle(SimpleRateThrottle):
    """Requests per API token when the request carries one, else per signed-in user.

    A view's `throttle_scope` names its rate: "api" (REFUNDTOOL_API_RATE) unless it says "reports"
    (REFUNDTOOL_API_REPORT_RATE). The rate is read from the settings on each request, not once at
    import as DRF's own throttles do, so a changed setting applies at once. A refused request is a
    429 with Retry-After (DRF), in the one error shape (refundtool.api.errors).
    """

    RATE_SETTINGS = {"api": "REFUNDTOOL_API_RATE", "reports": "REFUNDTOOL_API_REPORT_RATE"}

    def __init__(self) -> None:
        # SimpleRateThrottle reads a fixed rate here; ours depends on the view, so allow_request sets it.
        self.rate = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = getattr(view, "throttle_scope", "api")
        self.rate = getattr(settings, self.RATE_SETTINGS[self.scope])
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if isinstance(request.auth, AuthToken):
            # Two tokens of one user are two credentials; the stored digest names a token, not the token.
            ident = f"token-{request.auth.digest[:32]}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"address-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
