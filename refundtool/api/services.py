"""Writes of the REST API's own: its tokens."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from knox.models import AuthToken


def api_token_issue(*, user: AbstractBaseUser, expiry: datetime) -> tuple[AuthToken, str]:
    """A new API token of the user, valid until `expiry`: the row (a SHA-512 of the token) and the token.

    The token is returned only here; nothing can show it again.
    """
    return AuthToken.objects.create(user=user, expiry=expiry - timezone.now())
