"""Admin of the gateway's producer credentials: the token is shown once, only its hash is kept."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from events.contracts.specification import default_specification
from events.gateway.models import ProducerCredential
from events.gateway.selectors import envelope_countries
from events.gateway.services import (
    producer_credential_create,
    producer_credential_rotate_token,
    producer_credential_update,
)


def _event_type_choices() -> list[tuple[str, str]]:
    return [(spec.name, f"{spec.name} ({spec.owner})") for spec in default_specification().latest()]


def _country_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in envelope_countries()]


class ProducerCredentialForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(choices=_event_type_choices, widget=forms.CheckboxSelectMultiple)
    countries = forms.MultipleChoiceField(
        choices=_country_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Countries it may publish events for; none: every country.",
    )

    class Meta:
        model = ProducerCredential
        fields = ["name", "event_types", "countries", "is_active"]


@admin.register(ProducerCredential)
class ProducerCredentialAdmin(admin.ModelAdmin):
    form = ProducerCredentialForm
    list_display = ["name", "token_prefix", "event_type_list", "country_list", "is_active", "token_issued_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "token_prefix"]
    readonly_fields = ["token_prefix", "token_issued_at", "created_at"]
    actions = ["issue_new_token"]

    @admin.display(description="event types")
    def event_type_list(self, credential: ProducerCredential) -> str:
        return ", ".join(credential.event_types)

    @admin.display(description="countries")
    def country_list(self, credential: ProducerCredential) -> str:
        return ", ".join(credential.countries) or "every country"

    def save_model(self, request: HttpRequest, obj: ProducerCredential, form: forms.ModelForm, change: bool) -> None:
        fields = {key: form.cleaned_data[key] for key in ("name", "event_types", "countries", "is_active")}
        if change:
            producer_credential_update(credential=obj, **fields)
            return
        credential, token = producer_credential_create(**fields)
        obj.pk = credential.pk
        obj.refresh_from_db()
        self._show_token(request, credential, token)

    @admin.action(description="Issue a new token (the old one stops working)")
    def issue_new_token(self, request: HttpRequest, queryset: QuerySet[ProducerCredential]) -> None:
        for credential in queryset:
            self._show_token(request, credential, producer_credential_rotate_token(credential=credential))

    @staticmethod
    def _show_token(request: HttpRequest, credential: ProducerCredential, token: str) -> None:
        messages.warning(request, f"Token of {credential.name}: {token} (copy it now: it is not shown again)")
