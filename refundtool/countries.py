"""The countries Refund Tool knows. A new country is one line here plus its code in REFUNDTOOL_COUNTRIES."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217
    fiscal_receipt_required: bool  # a refund needs a "return of income" receipt (RU: 54-FZ)


COUNTRIES: dict[str, Country] = {
    country.code: country
    for country in (
        Country("RU", "RUB", fiscal_receipt_required=True),
        Country("KZ", "KZT", fiscal_receipt_required=False),
        Country("BY", "BYN", fiscal_receipt_required=False),
        Country("UA", "UAH", fiscal_receipt_required=False),
    )
}


def served_country_codes() -> Sequence[str]:
    """The countries this deployment serves (settings.REFUNDTOOL_COUNTRIES), in settings order.

    The settings' own sequence, not a copy: the rules ask for it for every refund request.
    """
    return settings.REFUNDTOOL_COUNTRIES


def fiscal_receipt_required(country_code: str) -> bool:
    return COUNTRIES[country_code].fiscal_receipt_required
