import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.parking import OutboxRowNotParkedError, outbox_parked, outbox_retry, outbox_skip


class Command(BaseCommand):
    help = "List the outbox rows the broker refused for good (parked), and retry or skip them."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("parked", help="list the parked rows, oldest first")
        for name, help_text in (
            ("retry", "send parked rows again (after fixing what the broker refused)"),
            ("skip", "never send parked rows: they leave the outbox and the later rows of their keys go on"),
        ):
            action = actions.add_parser(name, help=help_text)
            action.add_argument("ids", nargs="+", type=int, help="outbox row ids (see `outbox parked`)")
            action.add_argument("--reason", required=True)
            action.add_argument("--actor", default=getpass.getuser(), help="who decides (default: OS user)")

    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "parked":
            rows = list(outbox_parked())
            for row in rows:
                self.stdout.write(
                    f"{row.id}  {row.event_type}  eid={row.eid}  key={row.key}  "
                    f"parked {row.failed_at:%Y-%m-%d %H:%M:%S}  {row.last_error[:200]}"
                )
            self.stdout.write(f"{len(rows)} parked row(s)")
            return
        service = outbox_retry if options["action"] == "retry" else outbox_skip
        try:
            done = service(ids=options["ids"], actor=f"cli:{options['actor']}", reason=str(options["reason"]))
        except (OutboxRowNotParkedError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{options['action']}: {done} parked row(s)")
