"""Docker cannot run here, so the compose file is checked for what can break silently: commands, that
its Kafka is the one the tests run, and that Prometheus scrapes with the token the web service accepts."""

import yaml
from django.conf import settings
from django.core.management import get_commands

from events.messaging.apache_kafka import broker_settings, kafka_version

COMPOSE = settings.BASE_DIR / "docker-compose.yml"
KAFKA_NODES = ["kafka1", "kafka2", "kafka3"]
INFRASTRUCTURE = {*KAFKA_NODES, "postgres", "redis"}
ONE_SHOT = {"migrate", "topics"}
MONITORING = {"prometheus"}
PROMETHEUS_CONFIG = settings.BASE_DIR / "deploy" / "prometheus.yml"


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_has_every_process_and_its_infrastructure():
    assert {"web", "consumer", "relay", "worker", "beat", *INFRASTRUCTURE} <= set(services())


def test_every_app_service_command_names_a_real_command():
    commands = get_commands()
    for name, service in services().items():
        if name in INFRASTRUCTURE | MONITORING:
            continue
        argv = service["command"]
        assert service["image"] == "refundtool:local", name
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in commands, f"{name}: manage.py {argv[2]} does not exist"
        elif argv[0] == "celery":
            assert argv[1:3] == ["-A", "refundtool"], name
            assert argv[3] in {"worker", "beat"}, name
        elif argv[:3] == ["python", "-m", "refundtool.web"]:
            from refundtool import web

            web.parse_args(argv[3:])  # exits 2 on an option it does not take
        else:
            raise AssertionError(f"{name}: unknown command {argv}")


def test_app_services_wait_for_healthy_infrastructure():
    for name, service in services().items():
        if name in INFRASTRUCTURE | ONE_SHOT | MONITORING:
            continue
        conditions = {dep: cond["condition"] for dep, cond in service["depends_on"].items()}
        assert {conditions[dep] for dep in INFRASTRUCTURE} == {"service_healthy"}, name
        assert conditions["migrate"] == conditions["topics"] == "service_completed_successfully", name
    for name in INFRASTRUCTURE:
        assert "healthcheck" in services()[name], name


def test_kafka_is_the_version_and_settings_the_tests_run():
    for node_id, name in enumerate(KAFKA_NODES, start=1):
        service = services()[name]
        assert service["image"] == f"apache/kafka:{kafka_version()}", name
        env = {key: str(value) for key, value in service["environment"].items()}
        for key, value in broker_settings(len(KAFKA_NODES)).items():
            assert env.get("KAFKA_" + key.upper().replace(".", "_")) == value, (name, key)
        assert env["KAFKA_NODE_ID"] == str(node_id)
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
    voters = {services()[name]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for name in KAFKA_NODES}
    assert voters == {",".join(f"{i}@{name}:9093" for i, name in enumerate(KAFKA_NODES, start=1))}
    bootstrap = yaml.safe_load(COMPOSE.read_text())["x-app"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == ",".join(f"{name}:9092" for name in KAFKA_NODES)


def test_prometheus_scrapes_metrics_with_the_token_the_web_service_accepts():
    compose = yaml.safe_load(COMPOSE.read_text())
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert prometheus["secrets"] == ["scrape_token"]
    assert "file" in compose["secrets"]["scrape_token"]
    # The hash of that token, required: compose refuses to start without it.
    assert compose["x-app"]["environment"]["REFUNDTOOL_SCRAPE_TOKEN_SHA256"].startswith(
        "${REFUNDTOOL_SCRAPE_TOKEN_SHA256:?"
    )

    [job] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["web:8000"]}]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/scrape_token"}


def test_the_readmes_scrape_config_carries_the_token():
    readme = (settings.BASE_DIR / "README.md").read_text()
    block = readme.split("```yaml\nscrape_configs:", 1)[1].split("```", 1)[0]
    [job] = yaml.safe_load("scrape_configs:" + block)["scrape_configs"]
    assert job["authorization"]["credentials_file"]
