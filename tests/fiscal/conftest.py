"""Fixtures of the fiscal tests: the provider emulator, a real HTTP server in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings

from events.messaging.embedded_broker import free_port


@dataclass
class Emulator:
    """The control side of a running `manage.py fiscal_emulator`."""

    root: str
    process: subprocess.Popen[bytes]

    @property
    def api_url(self) -> str:
        return f"{self.root}/possystem/v5"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.root + path, data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our loopback emulator
            return json.loads(response.read())

    def reset(self, **config: Any) -> None:
        self._call("POST", "/emulator/reset", config)

    def configure(self, **config: Any) -> None:
        self._call("POST", "/emulator/config", config)

    def expire_tokens(self) -> None:
        self._call("POST", "/emulator/expire-tokens", {})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/emulator/stats")

    def registered(self, external_id: str) -> dict[str, Any]:
        """What the emulator registered under external_id: operation, group code, uuid and the body as sent."""
        return self._call("GET", f"/emulator/receipts/{external_id}")


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "fiscal_emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator = Emulator(root=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 30
    while True:
        try:
            emulator.stats()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the fiscal emulator did not start") from None
            time.sleep(0.05)
    yield emulator
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def fiscal_emulator(emulator_process: Emulator, redis_client: redis.Redis, settings: Any) -> Emulator:
    """The emulator, emptied and on quick defaults; settings point the provider client at it.

    The token cache lives in the test Redis, which redis_client has just flushed.
    """
    emulator_process.reset(done_after_ms=100)
    settings.FISCAL_PROVIDER_URL = emulator_process.api_url
    return emulator_process
