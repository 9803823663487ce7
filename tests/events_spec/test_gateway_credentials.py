"""The gateway's credential lookup: what the database answered is kept briefly, and never without bound."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.gateway import selectors
from events.gateway.services import producer_credential_create, producer_credential_update

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _no_cached_credentials():
    selectors.forget_credentials()
    yield
    selectors.forget_credentials()


def lookups(token: str, times: int) -> int:
    """How many queries `times` lookups of the token cost."""
    with CaptureQueriesContext(connection) as queries:
        for _ in range(times):
            selectors.producer_credential_get_by_token(token=token)
    return len(queries)


def test_a_producer_retrying_with_an_unknown_token_costs_one_query(settings):
    settings.EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = 5
    assert lookups("rtg_mistyped", 20) == 1
    assert selectors.producer_credential_get_by_token(token="rtg_mistyped") is None


def test_a_new_token_works_at_once_and_a_change_here_at_once(settings):
    settings.EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = 5
    credential, token = producer_credential_create(name="team-cache", event_types=["refund.update"])
    assert selectors.producer_credential_get_by_token(token=token) == credential

    producer_credential_update(credential=credential, name="team-cache", event_types=["refund.update"], is_active=False)
    assert selectors.producer_credential_get_by_token(token=token) is None
    assert lookups(token, 5) == 0  # "revoked" is kept as well


def test_without_a_cache_every_lookup_asks_the_database(settings):
    settings.EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = 0
    assert lookups("rtg_mistyped", 3) == 3


def test_a_flood_of_made_up_tokens_keeps_a_bounded_cache(settings, monkeypatch):
    settings.EVENTS_GATEWAY_CREDENTIAL_CACHE_SECONDS = 5
    monkeypatch.setattr(selectors, "MAX_CACHED_TOKENS", 10)
    for number in range(35):
        selectors.producer_credential_get_by_token(token=f"rtg_made-up-{number}")
        assert len(selectors._credentials) <= 10
