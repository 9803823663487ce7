"""Docker cannot run here, so the compose file is checked for what can break silently: commands."""

import yaml
from django.conf import settings
from django.core.management import get_commands

COMPOSE = settings.BASE_DIR / "docker-compose.yml"
INFRASTRUCTURE = {"kafka", "postgres", "redis"}
ONE_SHOT = {"migrate", "topics"}


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_has_every_process_and_its_infrastructure():
    assert {"web", "consumer", "relay", "worker", "beat", "kafka", "postgres", "redis"} <= set(services())


def test_every_app_service_command_names_a_real_command():
    commands = get_commands()
    for name, service in services().items():
        if name in INFRASTRUCTURE:
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
        if name in INFRASTRUCTURE or name in ONE_SHOT:
            continue
        conditions = {dep: cond["condition"] for dep, cond in service["depends_on"].items()}
        assert conditions["postgres"] == conditions["redis"] == conditions["kafka"] == "service_healthy", name
        assert conditions["migrate"] == conditions["topics"] == "service_completed_successfully", name
    for name in INFRASTRUCTURE:
        assert "healthcheck" in services()[name], name
