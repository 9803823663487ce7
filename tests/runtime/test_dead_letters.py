"""Dead letters: written without the database, then listed, shown, replayed and discarded by on-call."""

import pytest
from confluent_kafka import Producer
from django.conf import settings
from django.core.management import CommandError, call_command

from events.messaging import dead_letters
from events.messaging.dead_letters import DeadLetterPublisher, dead_letter_list, dead_letters_of_key
from events.messaging.kafka import java_partition, producer_config
from events.messaging.models import DeadLetterDecision
from tests.support.kafka import create_topic, produce_one_by_one, read_all

pytestmark = pytest.mark.kafka


@pytest.fixture
def dead_letter(unique_name):
    """A poison message consumed from `topic` and parked in `topic.dlq`."""
    topic = create_topic(unique_name("orders"))
    create_topic(topic + ".dlq")
    produce_one_by_one(topic, [b"{not json"], key=b"ORDER-1")
    original = read_all(topic, expect=1)[0]
    publisher = DeadLetterPublisher(group="refundtool-test")
    publisher.send(original, error_class="MalformedMessage", error_message="the value is not valid UTF-8 JSON")
    publisher.flush()
    return topic


def test_the_dead_letter_keeps_the_message_and_says_why(dead_letter):
    [letter] = read_all(dead_letter + ".dlq", expect=1)
    headers = {k: v.decode() for k, v in letter.headers()}
    assert letter.value() == b"{not json"
    assert letter.key() == b"ORDER-1"
    assert headers["dlq.error.class"] == "MalformedMessage"
    assert headers["dlq.error.message"] == "the value is not valid UTF-8 JSON"
    assert headers["dlq.original.topic"] == dead_letter
    assert (headers["dlq.original.partition"], headers["dlq.original.offset"]) == ("0", "0")
    assert headers["dlq.group"] == "refundtool-test"
    assert "dlq.failed_at" in headers


@pytest.mark.django_db
def test_list_and_show(dead_letter, capsys):
    call_command("dlq", "list", "--topic", dead_letter + ".dlq")
    out = capsys.readouterr().out
    assert f"{dead_letter}.dlq 0 0  key=ORDER-1  MalformedMessage: the value is not valid UTF-8 JSON  [open]" in out
    call_command("dlq", "show", dead_letter + ".dlq", "0", "0")
    out = capsys.readouterr().out
    assert "dlq.original.topic: " + dead_letter in out
    assert "{not json" in out


@pytest.mark.django_db
def test_replay_republishes_to_the_original_topic_once(dead_letter):
    call_command("dlq", "replay", dead_letter + ".dlq", "0", "0", "--reason", "handler fixed", "--actor", "oncall")
    original, replayed = read_all(dead_letter, expect=2)
    assert (replayed.value(), replayed.key()) == (original.value(), original.key())
    assert not any(k.startswith("dlq.") for k, _ in replayed.headers() or [])
    decision = DeadLetterDecision.objects.get()
    assert (decision.action, decision.actor, decision.reason) == ("replay", "oncall", "handler fixed")
    with pytest.raises(CommandError, match="already decided"):
        call_command("dlq", "replay", dead_letter + ".dlq", "0", "0", "--reason", "again")
    assert len(read_all(dead_letter, expect=3, timeout=3)) == 2


@pytest.mark.django_db
def test_discard_records_who_and_why(dead_letter):
    call_command("dlq", "discard", dead_letter + ".dlq", "0", "0", "--reason", "test order", "--actor", "ann")
    [letter] = dead_letter_list(topics=[dead_letter + ".dlq"])
    assert (letter.decision.action, letter.decision.actor, letter.decision.reason) == ("discard", "ann", "test order")


@pytest.mark.django_db
def test_bad_operator_input_is_a_clear_error(dead_letter):
    with pytest.raises(CommandError, match="no dead letter"):
        call_command("dlq", "show", dead_letter + ".dlq", "0", "42")
    with pytest.raises(CommandError, match="a reason is required"):
        call_command("dlq", "discard", dead_letter + ".dlq", "0", "0", "--reason", "  ")
    assert not DeadLetterDecision.objects.exists()


@pytest.fixture
def dead_letters_of_orders(unique_name):
    """Dead letters of three orders in a 4-partition DLQ topic: two of the first order, one each of the others."""
    orders = [unique_name("ORDER") for _ in range(3)]
    topic = create_topic(unique_name("orders"), partitions=4)
    create_topic(topic + ".dlq", partitions=4)
    for order, count in zip(orders, (2, 1, 1), strict=True):
        produce_one_by_one(topic, [f"poison {n} of {order}".encode() for n in range(count)], key=order.encode())
    publisher = DeadLetterPublisher(group="refundtool-test")
    for message in read_all(topic, expect=4):
        publisher.send(message, error_class="HandlerFailed", error_message="kept failing")
    publisher.flush()
    return topic + ".dlq", orders


@pytest.mark.django_db
def test_the_dead_letters_of_an_order_are_read_from_its_partition_only(dead_letters_of_orders):
    dlq, (order, *others) = dead_letters_of_orders

    search = dead_letters_of_key(key=order)

    assert search.complete
    assert sorted(letter.value for letter in search.letters) == [f"poison {n} of {order}".encode() for n in range(2)]
    assert {(letter.topic, letter.partition) for letter in search.letters} == {(dlq, java_partition(order.encode(), 4))}
    assert dead_letters_of_key(key=others[0]).letters[0].key == others[0]


@pytest.mark.django_db
def test_a_search_that_stops_at_its_limit_says_so(dead_letters_of_orders, capsys):
    _, (order, *_) = dead_letters_of_orders

    search = dead_letters_of_key(key=order, read_limit=1)
    assert (search.complete, search.read) == (False, 1)

    call_command("dlq", "list", "--key", order)
    captured = capsys.readouterr()
    assert captured.out.count(f"key={order}") == 2
    assert "2 dead letter(s)" in captured.out
    call_command("dlq", "list", "--key", order, "--limit", "1")
    assert "stopped after reading 1 dead letters" in capsys.readouterr().err


@pytest.mark.django_db
def test_bad_list_options_are_a_clear_error(dead_letters_of_orders):
    dlq, (order, *_) = dead_letters_of_orders
    with pytest.raises(CommandError, match="leave out --topic"):
        call_command("dlq", "list", "--key", order, "--topic", dlq)
    with pytest.raises(CommandError, match="at least 1"):
        call_command("dlq", "list", "--limit", "0")


def test_a_publisher_closes_only_a_producer_it_made():
    given = Producer(producer_config())
    DeadLetterPublisher(group="g", producer=given).close()
    given.poll(0)  # still open: it belongs to the caller
    given.close()

    made = DeadLetterPublisher(group="g")
    made.close()
    with pytest.raises(RuntimeError, match="closed"):
        made.producer.poll(0)


def test_a_letter_too_large_for_the_dead_letter_topic_is_written_shortened(unique_name):
    # A value near the producer's limit is fine on its topic; with the dlq headers the letter is not.
    topic = create_topic(unique_name("orders"))
    create_topic(topic + ".dlq")
    limit = settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES  # the dead-letter producer's own limit too
    big = b"{" + b"x" * (limit - 100)
    producer = Producer(producer_config(**{"message.max.bytes": limit + 100_000}))
    producer.produce(topic, key=b"ORDER-9", value=big, headers=[("eid", b"e-1")])
    assert producer.flush(10) == 0
    original = read_all(topic, expect=1)[0]

    publisher = DeadLetterPublisher(group="refundtool-test")
    publisher.send(original, error_class="MalformedMessage", error_message="the value is not valid UTF-8 JSON")
    publisher.flush()  # raises unless some letter arrived

    [letter] = read_all(topic + ".dlq", expect=1)
    headers = {k: v.decode() for k, v in letter.headers()}
    assert letter.value() == big[: dead_letters.TRUNCATED_VALUE_BYTES]
    assert letter.key() == b"ORDER-9"
    assert headers["dlq.truncated"] == "true"
    assert headers["dlq.original.value_bytes"] == str(len(big))
    assert "MSG_SIZE_TOO_LARGE" in headers["dlq.letter.error"] or "too large" in headers["dlq.letter.error"].lower()
    assert headers["dlq.error.class"] == "MalformedMessage"
    assert (headers["dlq.original.topic"], headers["dlq.original.offset"]) == (topic, "0")
    assert headers["eid"] == "e-1"


@pytest.mark.django_db
def test_a_shortened_letter_cannot_be_replayed(unique_name):
    topic = create_topic(unique_name("orders"))
    create_topic(topic + ".dlq")
    produce_one_by_one(topic + ".dlq", [b"{cut"], key=b"ORDER-9")
    # As a shortened letter is written: the marks beside the coordinates.
    producer = Producer(producer_config())
    headers = [("dlq.truncated", b"true"), ("dlq.original.topic", topic.encode()), ("dlq.original.offset", b"0")]
    producer.produce(topic + ".dlq", key=b"ORDER-9", value=b"{cut", headers=headers)
    assert producer.flush(10) == 0
    with pytest.raises(CommandError, match="shortened letter"):
        call_command("dlq", "replay", topic + ".dlq", "0", "1", "--reason", "try")
    assert not DeadLetterDecision.objects.exists()
