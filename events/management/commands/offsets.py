from datetime import datetime

from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.offsets import (
    OffsetResetRefusedError,
    committed_offsets,
    group_is_active,
    group_offsets,
    offsets_reset,
)


class Command(BaseCommand):
    help = "Show or move a consumer group's committed offsets (no release needed to skip a message)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        show = actions.add_parser("show", help="committed offset, high watermark and lag per partition")
        show.add_argument("--group", required=True)
        show.add_argument("--topic", action="append", help="limit to these topics (repeatable)")
        reset = actions.add_parser("reset", help="move the group's offsets on one topic")
        reset.add_argument("--group", required=True)
        reset.add_argument("--topic", required=True)
        target = reset.add_mutually_exclusive_group(required=True)
        target.add_argument("--to-earliest", action="store_true")
        target.add_argument("--to-latest", action="store_true")
        target.add_argument("--to-offset", type=int, metavar="N")
        target.add_argument("--to-datetime", type=datetime.fromisoformat, metavar="ISO")
        target.add_argument("--shift", type=int, metavar="N")
        reset.add_argument("--partition", type=int, help="with --to-offset: the partition to move")
        reset.add_argument("--force", action="store_true", help="even while the group has active members")
        reset.add_argument(
            "--dry-run", action="store_true", help="print each partition's committed and new offset; move nothing"
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            if options["action"] == "show":
                self._show(options)
            else:
                self._reset(options)
        except (KafkaException, OffsetResetRefusedError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _show(self, options: dict) -> None:
        rows = group_offsets(options["group"], options["topic"])
        if not rows:
            raise CommandError(f"group {options['group']} has no committed offsets")
        self.stdout.write(f"{'TOPIC':<40} {'PART':>4} {'COMMITTED':>10} {'HIGH':>10} {'LAG':>8}")
        for row in rows:
            committed = "-" if row.committed is None else str(row.committed)
            self.stdout.write(
                f"{row.topic:<40} {row.partition:>4} {committed:>10} {row.high_watermark:>10} {row.lag:>8}"
            )

    def _reset(self, options: dict) -> None:
        if options["to_offset"] is not None and options["partition"] is None:
            raise CommandError("--to-offset needs --partition")
        if options["partition"] is not None and options["to_offset"] is None:
            raise CommandError("--partition goes with --to-offset")
        moved = offsets_reset(
            group=options["group"],
            topic=options["topic"],
            to_earliest=options["to_earliest"],
            to_latest=options["to_latest"],
            to_offset=options["to_offset"],
            partition=options["partition"],
            to_datetime=options["to_datetime"],
            shift=options["shift"],
            force=options["force"],
            dry_run=options["dry_run"],
        )
        if not options["dry_run"]:
            for tp in moved:
                self.stdout.write(f"{tp.topic} [{tp.partition}] -> {tp.offset}")
            return
        committed = committed_offsets(options["group"], [options["topic"]])
        for tp in moved:
            now = committed.get((tp.topic, tp.partition))
            self.stdout.write(f"{tp.topic} [{tp.partition}] {'-' if now is None else now} -> {tp.offset} (dry run)")
        if not options["force"] and group_is_active(options["group"]):
            self.stdout.write(
                f"group {options['group']} has active members: the reset would be refused without --force"
            )
        self.stdout.write("dry run: nothing was moved")
