"""Who may read the ops endpoints (/metrics, /monitoring/*, the details of /readyz).

A machine sends a scrape token, ``Authorization: Bearer <token>``; the service knows only the
SHA-256 of each token it accepts (REFUNDTOOL_SCRAPE_TOKEN_SHA256, comma-separated, so a new token
can be added before the old one is removed). A person uses the admin session: an active staff user
holding ``events.view_monitoring`` (superusers hold every permission).

Refusals answer in the service's one error shape (events.contracts.errors): 401 without a
credential or with a token the service does not know, 403 for a user without the permission.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from events.contracts.errors import error_response

VIEW_MONITORING = "events.view_monitoring"
SCRAPE_TOKEN_PREFIX = "rts_"  # noqa: S105 - marks a scrape token in logs and secret scanners
_CHALLENGE = 'Bearer realm="monitoring"'

View = Callable[..., HttpResponse]


def scrape_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scrape_token_new() -> tuple[str, str]:
    """A new random scrape token and the SHA-256 to add to REFUNDTOOL_SCRAPE_TOKEN_SHA256."""
    token = SCRAPE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, scrape_token_hash(token)


def ops_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request carries an ops credential; otherwise the 401 or 403 to answer."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        # A token of 256 random bits: comparing its hash by set membership leaks nothing usable.
        if token.strip() and scrape_token_hash(token.strip()) in settings.REFUNDTOOL_SCRAPE_TOKEN_SHA256:
            return None
        return error_response(
            401,
            "invalid_token",
            "the scrape token is unknown",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return error_response(
            401,
            "unauthenticated",
            "send Authorization: Bearer <scrape token>, or sign in to the admin as staff",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    if user.is_active and user.is_staff and user.has_perm(VIEW_MONITORING):
        return None
    return error_response(403, "forbidden", f"this needs a staff user with the {VIEW_MONITORING} permission")


def has_ops_credential(request: HttpRequest) -> bool:
    return ops_refusal(request) is None


def ops_credential_required(view: View) -> View:
    """Answers the view only to a scrape token or a staff user with events.view_monitoring."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = ops_refusal(request)
        if refusal is not None:
            return refusal
        return view(request, *args, **kwargs)

    return wrapper
