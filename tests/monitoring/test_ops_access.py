"""Ops endpoints need a credential: a scrape token, or a staff user with events.view_monitoring."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from tests.support.ops import SCRAPE_AUTH

pytestmark = pytest.mark.django_db

OPS_PATHS = ["/metrics", "/monitoring/responses", "/monitoring/lag/", "/monitoring/lag/some-group"]
SCHEMA_PATHS = ["/api/schema/", "/api/schema/swagger-ui/"]


def _error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def _user(*, staff: bool, permission: bool = False) -> Client:
    user = get_user_model().objects.create_user(f"user-{staff}-{permission}", password="pw-ops-123", is_staff=staff)
    if permission:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="events", codename="view_monitoring"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", OPS_PATHS)
def test_without_a_credential_every_ops_endpoint_is_a_401_in_the_one_shape(path):
    response = Client().get(path)
    _error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", OPS_PATHS)
def test_an_unknown_token_is_a_401(path):
    _error(Client(HTTP_AUTHORIZATION="Bearer rts_guessed").get(path), 401, "invalid_token")


@pytest.mark.parametrize("path", OPS_PATHS)
def test_a_staff_user_without_the_permission_is_a_403(path):
    _error(_user(staff=True).get(path), 403, "forbidden")
    _error(_user(staff=False, permission=True).get(path), 403, "forbidden")


@pytest.mark.parametrize("path", OPS_PATHS)
def test_a_scrape_token_or_a_staff_user_with_the_permission_is_answered(path, redis_client):
    expected = 404 if path.endswith("some-group") else 200  # Burrow's NOTFOUND for a group never seen
    assert Client(**SCRAPE_AUTH).get(path).status_code == expected
    assert _user(staff=True, permission=True).get(path).status_code == expected


def test_several_tokens_are_accepted_so_one_can_be_rotated_in(settings):
    new = "rts_the-next-token"
    settings.REFUNDTOOL_SCRAPE_TOKEN_SHA256 = settings.REFUNDTOOL_SCRAPE_TOKEN_SHA256 | {
        hashlib.sha256(new.encode()).hexdigest()
    }
    assert Client(**SCRAPE_AUTH).get("/metrics").status_code == 200
    assert Client(HTTP_AUTHORIZATION=f"Bearer {new}").get("/metrics").status_code == 200


def test_the_scrape_token_command_prints_a_token_and_the_hash_to_configure(settings):
    out = io.StringIO()
    call_command("scrape_token", stdout=out)
    lines = dict(line.split(":", 1) for line in out.getvalue().splitlines())
    token, digest = lines["token"].strip(), lines["sha256"].strip()
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    settings.REFUNDTOOL_SCRAPE_TOKEN_SHA256 = frozenset({digest})
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/metrics").status_code == 200


def test_the_scrape_token_command_writes_a_token_file_only_its_owner_reads(tmp_path):
    path = tmp_path / "scrape_token"
    out = io.StringIO()
    call_command("scrape_token", "--token-file", str(path), stdout=out)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() not in out.getvalue()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in out.getvalue()


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_the_api_schema_needs_an_authenticated_user(path):
    response = Client().get(path)
    assert response.status_code in {401, 403}
    assert response.json()["error"]["code"] == "not_authenticated"
    assert _user(staff=False).get(path).status_code == 200


def test_healthz_stays_open():
    assert Client().get("/healthz").status_code == 200
