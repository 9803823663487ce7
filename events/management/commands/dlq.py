import getpass

from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.messaging.dead_letters import (
    DeadLetterAlreadyDecidedError,
    DeadLetterNotFoundError,
    DeadLetterPublishError,
    dead_letter_discard,
    dead_letter_get,
    dead_letter_list,
    dead_letter_replay,
    dead_letters_of_key,
)


class Command(BaseCommand):
    help = "List, inspect, replay and discard dead letters."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list")
        listing.add_argument("--topic", action="append", help="a .dlq topic (repeatable); default all")
        listing.add_argument("--limit", type=int, default=200, help="letters to list (with --key: to read)")
        listing.add_argument(
            "--key", help="only the letters with this Kafka key (an order number): reads its partitions"
        )
        for name in ("show", "replay", "discard"):
            action = actions.add_parser(name)
            action.add_argument("topic", help="the .dlq topic")
            action.add_argument("partition", type=int)
            action.add_argument("offset", type=int)
            if name != "show":
                action.add_argument("--reason", required=True)
                action.add_argument("--actor", default=getpass.getuser(), help="who decides (default: OS user)")

    def handle(self, *args: object, **options: object) -> None:
        try:
            getattr(self, "_" + str(options["action"]))(options)
        except (DeadLetterNotFoundError, DeadLetterAlreadyDecidedError, DeadLetterPublishError, KafkaException) as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _list(self, options: dict) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if options["key"] is None:
            letters = dead_letter_list(topics=options["topic"], limit=options["limit"])
        elif options["topic"]:
            raise CommandError("--key searches every .dlq topic; leave out --topic")
        else:
            search = dead_letters_of_key(key=options["key"], read_limit=options["limit"])
            letters = search.letters
            if not search.complete:
                self.stderr.write(f"stopped after reading {search.read} dead letters: raise --limit to read on")
        for letter in letters:
            decided = f"{letter.decision.action} by {letter.decision.actor}" if letter.decision else "open"
            self.stdout.write(
                f"{letter.topic} {letter.partition} {letter.offset}  key={letter.key}  "
                f"{letter.error_class}: {letter.error_message[:120]}  [{decided}]"
            )
        self.stdout.write(f"{len(letters)} dead letter(s)")

    def _show(self, options: dict) -> None:
        letter = dead_letter_get(topic=options["topic"], partition=options["partition"], offset=options["offset"])
        self.stdout.write(f"{letter.topic} [{letter.partition}] @{letter.offset} key={letter.key}")
        for name, value in sorted(letter.headers.items()):
            self.stdout.write(f"  {name}: {value}")
        if letter.decision:
            d = letter.decision
            self.stdout.write(f"  decision: {d.action} by {d.actor} at {d.decided_at.isoformat()}: {d.reason}")
        self.stdout.write(letter.value_text)

    def _replay(self, options: dict) -> None:
        decision = dead_letter_replay(
            topic=options["topic"],
            partition=options["partition"],
            offset=options["offset"],
            actor=options["actor"],
            reason=options["reason"],
        )
        self.stdout.write(f"replayed {decision}")

    def _discard(self, options: dict) -> None:
        decision = dead_letter_discard(
            topic=options["topic"],
            partition=options["partition"],
            offset=options["offset"],
            actor=options["actor"],
            reason=options["reason"],
        )
        self.stdout.write(f"discarded {decision}")
