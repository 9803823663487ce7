import pytest
from django.test import Client

from events.messaging.embedded_broker import free_port

pytestmark = pytest.mark.kafka


@pytest.fixture
def client() -> Client:
    return Client()


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


@pytest.mark.django_db
def test_readyz_is_503_and_names_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["status"] == "fail"
    assert "ConnectionError" in body["checks"]["redis"]["detail"]
    assert body["checks"]["broker"]["status"] == "ok"


def test_health_endpoints_refuse_other_methods(client):
    assert client.post("/healthz").status_code == 405
