from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.contracts.compat import breaking_changes, load_reference
from events.contracts.specification import SPEC_DIR, SpecError, load_specification


class Command(BaseCommand):
    help = (
        "Checks that every published event version in --against (a directory or a git ref) changed only in "
        "backward-compatible ways (Confluent BACKWARD, closed content model); names each breaking change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--against", required=True, help="a spec directory or a git ref, e.g. origin/main")
        parser.add_argument("--spec-dir", type=Path, default=SPEC_DIR, help="the new specification")

    def handle(self, *args: Any, against: str, spec_dir: Path, **options: Any) -> None:
        try:
            old = load_reference(against)
            new = load_specification(spec_dir)
        except (SpecError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if old is None:
            self.stdout.write(f"{against} has no event specification: nothing is published yet")
            return
        changes = breaking_changes(old, new)
        for change in changes:
            self.stderr.write(f"BREAKING {change}")
        if changes:
            raise CommandError(
                f"{len(changes)} breaking change(s) against {against}: "
                "a breaking change needs a new version (a new file and topic <name>.v<N+1>)"
            )
        self.stdout.write(f"compatible with {against}: {len(old.specs)} published event version(s) checked")
