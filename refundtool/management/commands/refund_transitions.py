from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refundtool.transition_doc import DOC_PATH, render


class Command(BaseCommand):
    help = "Write docs/refund-transitions.md from the refund state machine; --check fails when it is stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="do not write; exit non-zero if the file differs")
        parser.add_argument("--output", type=Path, default=DOC_PATH, help=f"default {DOC_PATH}")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        expected = render()
        if options["check"]:
            current = output.read_text(encoding="utf-8") if output.exists() else ""
            if current != expected:
                raise CommandError(f"{output} is stale: run `python manage.py refund_transitions` and commit it")
            self.stdout.write(f"{output} is up to date")
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(expected, encoding="utf-8")
        self.stdout.write(f"wrote {output}")
