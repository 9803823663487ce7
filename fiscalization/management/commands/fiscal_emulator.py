"""Runs the ATOL Online v5-style fiscal provider emulator (fiscalization/emulator.py) until stopped."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fiscalization.emulator import FAIL_TYPES, EmulatorConfig, EmulatorServer


class Command(BaseCommand):
    help = "Serve an ATOL Online v5-style fiscal provider emulator over HTTP (development, tests, benchmarks)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--latency-ms", type=int, default=0, help="delay before every provider answer")
        parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered HTTP 500")
        parser.add_argument("--fail-rate", type=float, default=0.0, help="share of documents that end in fail")
        parser.add_argument("--fail-type", choices=FAIL_TYPES, default="driver", help="the error type of a fail")
        parser.add_argument("--token-ttl", type=float, default=86400.0, help="token lifetime in seconds")
        parser.add_argument("--done-after-ms", type=int, default=500, help="time a document stays in wait")
        parser.add_argument("--login", default=settings.FISCAL_LOGIN, help="default: FISCAL_LOGIN")
        parser.add_argument("--password", default=settings.FISCAL_PASSWORD, help="default: FISCAL_PASSWORD")

    def handle(self, *args: object, **options: object) -> None:
        try:
            config = EmulatorConfig(
                latency_ms=options["latency_ms"],  # type: ignore[arg-type]
                error_rate=options["error_rate"],  # type: ignore[arg-type]
                fail_rate=options["fail_rate"],  # type: ignore[arg-type]
                fail_type=options["fail_type"],  # type: ignore[arg-type]
                token_ttl=options["token_ttl"],  # type: ignore[arg-type]
                done_after_ms=options["done_after_ms"],  # type: ignore[arg-type]
                login=options["login"],  # type: ignore[arg-type]
                password=options["password"],  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise CommandError(f"bad emulator option: {exc}") from None
        try:
            server = EmulatorServer((str(options["host"]), int(options["port"])), config)  # type: ignore[call-overload]
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None
        # serve_forever runs in a thread so that SIGTERM (run_all, docker) can stop it from the main thread.
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, name="fiscal-emulator", daemon=True)
        thread.start()
        self.stdout.write(f"fiscal emulator listening on {server.base_url}", ending="\n")
        self.stdout.flush()
        stop.wait()
        server.shutdown()
        server.server_close()
