import pytest
from django.db import OperationalError
from django.test import Client

from events.messaging.embedded_broker import free_port
from tests.support.ops import SCRAPE_AUTH

pytestmark = pytest.mark.kafka


@pytest.fixture
def client() -> Client:
    """An ops client: /readyz details go only to a scrape token or a staff user with the permission."""
    return Client(**SCRAPE_AUTH)


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_every_check_with_status_and_latency(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "redis"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_broker_when_it_is_unreachable(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert settings.KAFKA_BOOTSTRAP_SERVERS not in response.content.decode()


@pytest.mark.django_db
def test_readyz_is_503_and_names_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["redis"]["detail"] == "ConnectionError"  # the class, never the driver's text
    assert body["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_tells_an_anonymous_caller_only_ok_or_not(settings):
    assert (response := Client().get("/readyz")).status_code == 200
    assert response.json() == {"status": "ok"}
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    assert (response := Client().get("/readyz")).status_code == 503
    assert response.json() == {"status": "unavailable"}
    wrong_token = Client(HTTP_AUTHORIZATION="Bearer rts_not-a-token-we-know").get("/readyz")
    assert (wrong_token.status_code, wrong_token.json()) == (503, {"status": "unavailable"})


@pytest.mark.django_db
def test_readyz_never_shows_the_database_error_text(client, monkeypatch):
    def refuse(self, sql, params=None):
        raise OperationalError('FATAL: password authentication failed for user "refundtool" at db.internal:5432')

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "fail",
        "latency_ms": response.json()["checks"]["database"]["latency_ms"],
        "detail": "OperationalError",
    }
    assert "db.internal" not in response.content.decode()


def test_health_endpoints_refuse_other_methods(client):
    assert client.post("/healthz").status_code == 405
