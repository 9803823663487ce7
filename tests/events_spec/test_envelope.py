import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from events.contracts.envelope import (
    MalformedMessage,
    build_message,
    decode_message,
    encode_message,
    kafka_headers,
    kafka_record,
    new_eid,
)
from events.contracts.validation import validate_message
from tests.events_spec.samples import sample_data


def test_build_message_fills_the_envelope_and_the_result_is_valid():
    message = build_message("refund.update", sample_data("refund.update"), country="RU", version=1)
    metadata = message["metadata"]
    assert uuid.UUID(metadata["eid"]).version == 4
    assert (metadata["event_type"], metadata["version"], metadata["producer"]) == ("refund.update", 1, "refundtool")
    assert datetime.fromisoformat(metadata["occurred_at"]).tzinfo is not None
    assert (metadata["flow_id"], metadata["causation_id"]) == (None, None)
    assert "received_at" not in metadata
    assert validate_message("refund.update", message) == []


def test_a_new_eid_is_a_random_uuid_in_its_canonical_text():
    eids = [new_eid() for _ in range(2000)]

    assert len(set(eids)) == len(eids)
    for eid in eids:
        parsed = uuid.UUID(eid)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, eid)
    # Every bit outside version and variant varies: nothing is fixed but those six.
    varying = 0
    for eid in eids:
        varying |= uuid.UUID(eid).int ^ uuid.UUID(eids[0]).int
    assert varying.bit_count() == 128 - 6


def test_build_message_takes_the_ids_and_time_it_is_given():
    eid, cause = uuid.uuid4(), uuid.uuid4()
    occurred = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=3)))
    message = build_message(
        "refund.update",
        sample_data("refund.update"),
        country="KZ",
        eid=eid,
        flow_id="trace-1",
        causation_id=cause,
        occurred_at=occurred,
        producer="payments",
        version=1,
    )
    assert message["metadata"] == {
        "eid": str(eid),
        "event_type": "refund.update",
        "version": 1,
        "occurred_at": "2026-03-02T10:00:00+03:00",
        "producer": "payments",
        "country": "KZ",
        "flow_id": "trace-1",
        "causation_id": str(cause),
    }


def test_build_message_refuses_a_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message("refund.update", {}, country="RU", occurred_at=datetime(2026, 1, 1))


def test_encode_and_decode_round_trip():
    message = build_message("refund.update", sample_data("refund.update"), country="RU", occurred_at=datetime.now(UTC))
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "has no value"),
        (b"\xff\xfe{", "not valid UTF-8 JSON"),
        (b'{"metadata": ', "not valid UTF-8 JSON"),
        (b"", "not valid UTF-8 JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (b'"text"', "JSON str, not an object"),
    ],
)
def test_decode_message_says_what_is_wrong_with_a_bad_value(raw, reason):
    with pytest.raises(MalformedMessage, match=reason):
        decode_message(raw)


def test_the_kafka_record_of_a_message():
    message = build_message("refund.update", sample_data("refund.update", "ORD-42"), country="RU", version=1)
    record = kafka_record(message)
    assert record.topic == "refund.update.v1"
    assert record.key == b"ORD-42"
    assert orjson.loads(record.value) == message
    assert (
        record.headers
        == kafka_headers(message)
        == [
            ("eid", message["metadata"]["eid"].encode()),
            ("event_type", b"refund.update"),
        ]
    )
