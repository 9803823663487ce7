"""API tokens in admin: issued with an expiry, shown once, revoked by deleting them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from refundtool.api.services import api_token_issue

# knox's own admin issues tokens that never expire unless an expiry is typed in.
admin.site.unregister(AuthToken)


def _longest_lifetime() -> timedelta:
    return timedelta(days=settings.REFUNDTOOL_API_TOKEN_TTL_DAYS)


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = AuthToken
        fields = ["user", "expiry"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        expiry = self.fields["expiry"]
        expiry.required = True
        expiry.initial = timezone.now() + _longest_lifetime()
        expiry.help_text = f"At most {settings.REFUNDTOOL_API_TOKEN_TTL_DAYS} days from now."

    def clean_expiry(self) -> Any:
        expiry = self.cleaned_data["expiry"]
        now = timezone.now()
        if not now < expiry <= now + _longest_lifetime():
            days = settings.REFUNDTOOL_API_TOKEN_TTL_DAYS
            raise forms.ValidationError(f"Choose a time in the next {days} days (REFUNDTOOL_API_TOKEN_TTL_DAYS).")
        return expiry


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["user", "token_start", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    @admin.display(description="token starts with")
    def token_start(self, token: AuthToken) -> str:
        # knox keeps the token's first characters to find its row; eight tell tokens apart.
        return f"{token.token_key[:8]}…"

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False  # a token is never edited: delete it to revoke it, issue a new one to replace it

    def save_model(self, request: HttpRequest, obj: AuthToken, form: forms.ModelForm, change: bool) -> None:
        issued, token = api_token_issue(user=form.cleaned_data["user"], expiry=form.cleaned_data["expiry"])
        obj.pk = issued.pk
        obj.refresh_from_db()
        messages.warning(request, f"Token of {issued.user}: {token} (copy it now: it is not shown again)")
