from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.contracts.generation import CONTRACTS_DIR, render_contracts, stale_files, write_contracts
from events.contracts.golang import GeneratorError
from events.contracts.specification import SPEC_DIR, SpecError, load_specification
from events.contracts.vectors import VectorError


class Command(BaseCommand):
    help = (
        "Writes the JSON Schemas, DTOs, AsyncAPI document, Go and PHP types and shared vectors of "
        "events/contracts/ from events/contracts/spec/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="write nothing; exit 1 listing the files that are stale"
        )
        parser.add_argument("--spec-dir", type=Path, default=SPEC_DIR)
        parser.add_argument("--output-dir", type=Path, default=CONTRACTS_DIR)

    def handle(self, *args: Any, check: bool, spec_dir: Path, output_dir: Path, **options: Any) -> None:
        try:
            rendered = render_contracts(load_specification(spec_dir))
        except (SpecError, VectorError) as exc:
            raise CommandError(f"the specification is invalid: {exc}") from exc
        except GeneratorError as exc:
            raise CommandError(f"the Go types could not be generated: {exc}") from exc
        if check:
            stale = stale_files(output_dir, rendered)
            for name in stale:
                self.stderr.write(f"stale: {output_dir / name}")
            if stale:
                raise CommandError(f"{len(stale)} generated file(s) are stale: run `python manage.py generate_events`")
            self.stdout.write(f"{len(rendered)} generated files are up to date")
            return
        touched = write_contracts(output_dir, rendered)
        for name in touched:
            self.stdout.write(f"wrote {output_dir / name}" if name in rendered else f"removed {output_dir / name}")
        self.stdout.write(f"{len(touched)} of {len(rendered)} generated files changed")
