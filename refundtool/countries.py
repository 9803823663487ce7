"""The countries Refund Tool knows. A new country is one line here plus its code in REFUNDTOOL_COUNTRIES."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from refundtool.states import PaymentMethod


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217
    fiscal_receipt_required: bool  # a refund needs a "return of income" receipt (RU: 54-FZ)
    # The methods a tender of bob.refund_requested v2 may use there, in PaymentMethod's order.
    tender_methods: tuple[str, ...]


# SBP is the Bank of Russia's faster payments system: it moves roubles between Russian banks only.
_OUTSIDE_RUSSIA = tuple(method for method in PaymentMethod.values if method != PaymentMethod.SBP)

COUNTRIES: dict[str, Country] = {
    country.code: country
    for country in (
        Country("RU", "RUB", fiscal_receipt_required=True, tender_methods=tuple(PaymentMethod.values)),
        Country("KZ", "KZT", fiscal_receipt_required=False, tender_methods=_OUTSIDE_RUSSIA),
        Country("BY", "BYN", fiscal_receipt_required=False, tender_methods=_OUTSIDE_RUSSIA),
        Country("UA", "UAH", fiscal_receipt_required=False, tender_methods=_OUTSIDE_RUSSIA),
    )
}


def served_country_codes() -> Sequence[str]:
    """The countries this deployment serves (settings.REFUNDTOOL_COUNTRIES), in settings order.

    The settings' own sequence, not a copy: the rules ask for it for every refund request.
    """
    return settings.REFUNDTOOL_COUNTRIES


@functools.cache
def served_currencies() -> Mapping[str, str]:
    """The currency of each served country, kept until REFUNDTOOL_COUNTRIES changes.

    The gateway and the consumers check every refund request against it; reading a Django setting
    costs about as much as the whole currency check.
    """
    return {code: COUNTRIES[code].currency for code in served_country_codes()}


@receiver(setting_changed)
def _forget_served_currencies(*, setting: str, **kwargs: Any) -> None:
    if setting == "REFUNDTOOL_COUNTRIES":
        served_currencies.cache_clear()


def fiscal_receipt_required(country_code: str) -> bool:
    return COUNTRIES[country_code].fiscal_receipt_required
