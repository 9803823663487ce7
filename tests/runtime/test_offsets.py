"""`manage.py offsets`: on-call moves a group past a message without a release."""

import threading

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.core.management import CommandError, call_command

from events.kafka import consumer_config
from events.offsets import group_offsets
from tests.support.kafka import create_topic, produce_one_by_one


@pytest.fixture
def topic_with_group(unique_name):
    """A 1-partition topic of 10 messages and a group that committed offset 6, then left."""
    topic = create_topic(unique_name("offsets"))
    produce_one_by_one(topic, [f"m{i}".encode() for i in range(10)])
    group = unique_name("group")
    consumer = Consumer(consumer_config(group))
    consumer.assign([TopicPartition(topic, 0, 0)])
    consumer.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
    consumer.close()
    return topic, group


def committed(group, topic):
    return {row.partition: row.committed for row in group_offsets(group, [topic])}


def test_show_prints_committed_high_watermark_and_lag(topic_with_group, capsys):
    topic, group = topic_with_group
    call_command("offsets", "show", "--group", group)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(topic))
    assert line.split()[1:] == ["0", "6", "10", "4"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--to-earliest"], 0),
        (["--to-latest"], 10),
        (["--to-offset", "3", "--partition", "0"], 3),
        (["--shift", "-2"], 4),
        (["--shift", "100"], 10),  # a shift past the end stops at the end, as Kafka's own tool does
    ],
)
def test_reset_moves_the_group(topic_with_group, args, expected):
    topic, group = topic_with_group
    call_command("offsets", "reset", "--group", group, "--topic", topic, *args)
    assert committed(group, topic) == {0: expected}


def test_reset_to_datetime_sets_an_offset_in_range(topic_with_group):
    # tansu answers offsets_for_times with the earliest offset whatever the timestamp (DESIGN §6);
    # Apache Kafka answers the first offset at or after it. Here we can only check the command path.
    topic, group = topic_with_group
    call_command("offsets", "reset", "--group", group, "--topic", topic, "--to-datetime", "2026-01-01T00:00:00+00:00")
    assert 0 <= committed(group, topic)[0] <= 10


def test_reset_is_refused_while_the_group_has_active_members_unless_forced(unique_name):
    topic = create_topic(unique_name("offsets"))
    produce_one_by_one(topic, [b"x"])
    group = unique_name("group")
    stop = threading.Event()
    joined = threading.Event()

    def member():
        consumer = Consumer(consumer_config(group))
        consumer.subscribe([topic], on_assign=lambda c, p: joined.set())
        while not stop.is_set():
            consumer.poll(0.2)
        consumer.close()

    thread = threading.Thread(target=member)
    thread.start()
    try:
        assert joined.wait(30)
        with pytest.raises(CommandError, match="active members"):
            call_command("offsets", "reset", "--group", group, "--topic", topic, "--to-latest")
        call_command("offsets", "reset", "--group", group, "--topic", topic, "--to-latest", "--force")
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to-offset", "3"], "--to-offset needs --partition"),
        (["--to-offset", "99", "--partition", "0"], "outside"),
        (["--to-offset", "1", "--partition", "7"], "no partition 7"),
    ],
)
def test_bad_reset_arguments_are_clear_errors(topic_with_group, args, message):
    topic, group = topic_with_group
    with pytest.raises(CommandError, match=message):
        call_command("offsets", "reset", "--group", group, "--topic", topic, *args)
    assert committed(group, topic) == {0: 6}


def test_an_unknown_topic_is_a_clear_error(topic_with_group):
    _, group = topic_with_group
    with pytest.raises(CommandError, match="unknown topic"):
        call_command("offsets", "reset", "--group", group, "--topic", "no-such-topic", "--to-latest")
