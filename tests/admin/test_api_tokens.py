"""API tokens: stored as a hash, with an expiry, issued in admin and shown once; rate limits per token."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from refundtool.api.services import api_token_issue
from refundtool.roles import ACCOUNTANT
from refundtool.settings.env import env_rate

pytestmark = pytest.mark.django_db
LIST = reverse("refundtool_api:refund-list")
REPORT = reverse("refundtool_api:report-reconciliation-csv")
ADD = reverse("admin:knox_authtoken_add")


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def bot(make_user):
    return make_user("reporting-bot", ACCOUNTANT)


def _carry_over() -> None:
    with connection.schema_editor() as editor:
        import_module("refundtool.migrations.0007_api_tokens_from_drf").carry_over(apps, editor)


def _issue(user, days: float = 1) -> str:
    return api_token_issue(user=user, expiry=timezone.now() + timedelta(days=days))[1]


def test_only_a_hash_of_the_token_is_stored(bot):
    token = _issue(bot)
    [row] = AuthToken.objects.filter(user=bot).values()
    assert token not in {str(value) for value in row.values()}
    assert len(row["digest"]) == 128  # SHA-512
    assert _client(token).get(LIST).status_code == 200
    assert _client(token[:-1] + ("0" if token[-1] != "0" else "1")).get(LIST).status_code == 401


def test_an_expired_token_is_refused_and_removed(bot):
    token = _issue(bot)
    AuthToken.objects.filter(user=bot).update(expiry=timezone.now() - timedelta(seconds=1))
    response = _client(token).get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=bot).exists()


def test_admin_issues_a_token_once_with_an_expiry(superuser, bot):
    expiry = timezone.now() + timedelta(days=30)
    response = superuser.post(
        ADD, {"user": bot.pk, "expiry_0": expiry.strftime("%Y-%m-%d"), "expiry_1": "12:00:00"}, follow=True
    )
    [notice] = [str(message) for message in response.context["messages"] if "Token of reporting-bot" in str(message)]
    token = notice.split("Token of reporting-bot: ")[1].split(" ")[0]
    assert _client(token).get(LIST).status_code == 200
    [stored] = AuthToken.objects.filter(user=bot)
    assert stored.expiry is not None
    changelist = superuser.get(reverse("admin:knox_authtoken_changelist")).content.decode()
    assert "reporting-bot" in changelist
    assert token not in changelist


def test_admin_refuses_a_token_without_an_expiry_or_past_the_longest_lifetime(superuser, bot, settings):
    settings.REFUNDTOOL_API_TOKEN_TTL_DAYS = 90
    too_late = timezone.now() + timedelta(days=91)
    for expiry in ({"expiry_0": "", "expiry_1": ""}, {"expiry_0": too_late.strftime("%Y-%m-%d"), "expiry_1": "12:00"}):
        response = superuser.post(ADD, {"user": bot.pk, **expiry})
        assert response.status_code == 200  # the form again, with its error
        assert response.context["adminform"].form.errors["expiry"]
    assert not AuthToken.objects.exists()


def test_the_rate_limit_is_per_token_with_retry_after_in_the_error_shape(bot, settings):
    settings.REFUNDTOOL_API_RATE = "2/minute"
    first, second = _client(_issue(bot)), _client(_issue(bot))
    assert [first.get(LIST).status_code for _ in range(2)] == [200, 200]
    refused = first.get(LIST)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert (error["code"], error["details"]) == ("throttled", [])
    assert second.get(LIST).status_code == 200  # another credential, another count


def test_reports_have_a_rate_of_their_own(bot, settings):
    settings.REFUNDTOOL_API_REPORT_RATE = "1/hour"
    client = _client(_issue(bot))
    assert client.get(REPORT).status_code == 200
    assert client.get(REPORT).status_code == 429
    assert client.get(LIST).status_code == 200


def test_a_signed_in_user_is_counted_too(support, settings):
    settings.REFUNDTOOL_API_RATE = "1/minute"
    assert support.get(LIST).status_code == 200
    assert support.get(LIST).status_code == 429


@pytest.mark.parametrize("value", ["100", "0/minute", "ten/minute", "100/fortnight", "100/min"])
def test_a_bad_rate_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("REFUNDTOOL_API_RATE", value)
    with pytest.raises(ImproperlyConfigured, match=r"REFUNDTOOL_API_RATE=.* is not a rate like 100/minute"):
        env_rate("REFUNDTOOL_API_RATE", "600/minute")


def test_plain_text_tokens_left_by_drf_are_carried_over_as_digests_and_their_table_dropped(bot):
    """A database from before knox still has DRF's authtoken_token, a clear-text copy of every token."""
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's format: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL,"
            " user_id integer NOT NULL UNIQUE REFERENCES auth_user (id))"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old_key, bot.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")

    _carry_over()

    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    [row] = AuthToken.objects.filter(user=bot).values()
    assert old_key not in {str(value) for value in row.values()}
    assert timezone.now() + timedelta(days=89) < row["expiry"] <= timezone.now() + timedelta(days=90)
    assert _client(old_key).get(LIST).status_code == 200


def test_without_drf_tokens_the_carry_over_does_nothing(bot):
    _carry_over()
    assert not AuthToken.objects.exists()
