"""The test command's private PostgreSQL and Redis: started when missing, always stopped."""

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
import redis

from tests.support.processes import wait_for

pytestmark = pytest.mark.slow
PROBE = (
    "import os, psycopg, redis; "
    "psycopg.connect(os.environ['DATABASE_URL'].rsplit('/', 1)[0] + '/postgres').close(); "
    "redis.Redis.from_url(os.environ['TEST_REDIS_URL']).ping(); "
    "print(os.environ['DATABASE_URL'], os.environ['TEST_REDIS_URL'], flush=True)"
)


def wrapper(*command: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.servers", "--", *command]


def bare_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_REDIS_URL"}}


def unreachable(database_url: str, redis_url: str) -> bool:
    try:
        psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", connect_timeout=1).close()
        return False
    except psycopg.OperationalError:
        pass
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
        return False
    except redis.RedisError:
        return True


def test_starts_both_servers_runs_the_command_and_stops_them_with_its_exit_code():
    result = subprocess.run(
        wrapper(sys.executable, "-c", PROBE + "; raise SystemExit(3)"),
        env=bare_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    database_url, redis_url = result.stdout.split()
    assert database_url.startswith("postgres://postgres@127.0.0.1:")
    assert "servers: PostgreSQL at" in result.stderr
    assert unreachable(database_url, redis_url), "a server outlived the command"


def test_servers_named_by_the_environment_are_used_and_nothing_is_started():
    env = bare_env() | {"DATABASE_URL": os.environ["DATABASE_URL"], "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"]}
    result = subprocess.run(
        wrapper(sys.executable, "-c", PROBE), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [env["DATABASE_URL"], env["TEST_REDIS_URL"]]
    assert "servers:" not in result.stderr


def test_sigterm_stops_the_command_and_the_servers():
    process = subprocess.Popen(
        wrapper(sys.executable, "-c", PROBE + "; import time; time.sleep(120)"),
        env=bare_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        database_url, redis_url = process.stdout.readline().split()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) != 0
        assert time.monotonic() - started < 30
        wait_for(lambda: unreachable(database_url, redis_url), timeout=10, message="the servers still answer")
    finally:
        process.kill()


def test_a_command_that_is_missing_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.servers"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr
