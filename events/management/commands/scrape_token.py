import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.monitoring.access import scrape_token_new


class Command(BaseCommand):
    help = (
        "Make a scrape token for /metrics, /monitoring/* and /readyz's details. Prints the token (for "
        "Prometheus; shown only here) and its SHA-256 (add it to REFUNDTOOL_SCRAPE_TOKEN_SHA256). Stores nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--token-file", help="write the token to this file (mode 0600) instead of printing it")

    def handle(self, *args: object, token_file: str | None, **options: object) -> None:
        token, digest = scrape_token_new()
        if token_file:
            try:
                # "x": never overwrite the token a running Prometheus reads; 0600: only its owner reads it.
                with open(token_file, "x", opener=lambda path, flags: os.open(path, flags, 0o600)) as file:
                    file.write(token)
            except FileExistsError:
                raise CommandError(f"{token_file} exists; remove it first or choose another file") from None
            self.stdout.write(f"token written to {token_file}")
        else:
            self.stdout.write(f"token:  {token}")
        self.stdout.write(f"sha256: {digest}")
