"""The events-bus gateway over the real broker: what it writes, and one test per error status."""

import uuid
from collections import defaultdict

import orjson
import pytest
from confluent_kafka import KafkaException, Message
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from events.contracts.specification import get_event_spec
from events.gateway.models import ProducerCredential
from events.messaging.embedded_broker import free_port
from events.messaging.kafka import java_partition
from tests.events_spec.conftest import Gateway, read_records
from tests.events_spec.samples import sample_message
from tests.support.wsgi import wsgi_call

pytestmark = pytest.mark.kafka

ERROR_SHAPE = {"code", "message", "details"}  # the service's one shape; publishing adds its events


def _error(response, status: int, code: str, *, publishing: bool = True) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = orjson.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == (ERROR_SHAPE | {"events"} if publishing else ERROR_SHAPE)
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _order() -> str:
    return f"ORD-{uuid.uuid4().hex[:12]}"


def test_one_event_is_written_with_its_key_headers_and_the_java_partition(gateway, spec_topics):
    message = sample_message("bob.refund_requested", _order(), producer="bob-ru", flow_id="trace-9")
    response = gateway().post("bob.refund_requested", message)

    assert response.status_code == 200, response.content
    [written] = orjson.loads(response.content)
    topic = "bob.refund_requested.v1"
    assert (written["eid"], written["topic"]) == (message["metadata"]["eid"], topic)
    record = read_records(topic, [(written["partition"], written["offset"])])[(written["partition"], written["offset"])]
    key = message["data"]["order_number"].encode()
    assert record.key() == key
    assert record.partition() == java_partition(key, spec_topics[topic])
    assert record.headers() == [("eid", message["metadata"]["eid"].encode()), ("event_type", b"bob.refund_requested")]
    value = orjson.loads(record.value())
    received_at = value["metadata"].pop("received_at")
    assert received_at.endswith("+00:00")
    assert value == message


def test_a_batch_keeps_each_key_on_one_partition_and_spreads_keys_over_partitions(gateway, spec_topics):
    orders = [_order() for _ in range(20)]
    batch = [sample_message("refund.update", orders[index % len(orders)]) for index in range(100)]
    response = gateway().post("refund.update", batch)

    assert response.status_code == 200, response.content
    written = orjson.loads(response.content)
    assert [item["eid"] for item in written] == [message["metadata"]["eid"] for message in batch]
    topic, partitions = "refund.update.v1", spec_topics["refund.update.v1"]
    records = read_records(topic, [(item["partition"], item["offset"]) for item in written])
    partitions_of_key = defaultdict(set)
    for item, message in zip(written, batch, strict=True):
        record = records[(item["partition"], item["offset"])]
        assert orjson.loads(record.value())["metadata"]["eid"] == message["metadata"]["eid"]
        assert record.partition() == java_partition(record.key(), partitions)
        partitions_of_key[record.key()].add(record.partition())
    assert all(len(used) == 1 for used in partitions_of_key.values())
    assert len(set().union(*partitions_of_key.values())) > 1


def test_422_an_invalid_event_aborts_the_whole_request_and_nothing_is_written(gateway):
    producer = gateway()
    order = _order()
    before = orjson.loads(producer.post("refund.update", sample_message("refund.update", order)).content)[0]
    invalid = sample_message("refund.update", order)
    invalid["data"]["amount"] = "12.5"
    del invalid["data"]["sequence"]
    batch = [sample_message("refund.update", order), invalid, sample_message("refund.update", order)]

    body = _error(producer.post("refund.update", batch), 422, "invalid_events")

    assert [event["status"] for event in body["events"]] == ["aborted", "failed", "aborted"]
    assert body["events"][1]["eid"] == invalid["metadata"]["eid"]
    assert {error["path"] for error in body["events"][1]["errors"]} == {"/data/amount", "/data/sequence"}
    after = orjson.loads(producer.post("refund.update", sample_message("refund.update", order)).content)[0]
    assert after["partition"] == before["partition"]
    assert after["offset"] == before["offset"] + 1  # nothing landed between the two probes


def test_422_an_event_needs_an_eid_matching_type_and_a_unique_eid_in_the_request(gateway):
    no_eid = sample_message("refund.update", _order())
    del no_eid["metadata"]["eid"]
    other_type = sample_message("bob.refund_requested", _order())
    repeated = sample_message("refund.update", _order())
    batch = [no_eid, other_type, repeated, repeated, "not an object"]

    body = _error(gateway().post("refund.update", batch), 422, "invalid_events")

    paths = [[error["path"] for error in event.get("errors", [])] for event in body["events"]]
    assert "/metadata/eid" in paths[0]
    assert "/metadata/event_type" in paths[1]
    assert [event["status"] for event in body["events"]] == ["failed", "failed", "aborted", "failed", "failed"]
    assert body["events"][3]["errors"] == [
        {"path": "/metadata/eid", "message": "repeats the eid of event 2 of this request"}
    ]
    assert body["events"][4]["errors"] == [{"path": "", "message": "an event must be a JSON object"}]


def test_401_without_a_token_with_an_unknown_one_or_a_revoked_one(gateway):
    message = sample_message("refund.update")
    body = _error(Gateway(None).post("refund.update", message), 401, "unauthenticated")
    assert body["events"] == []
    response = Gateway("rtg_not-a-real-token").post("refund.update", message)
    _error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer")
    revoked = gateway(name="revoked-team")
    ProducerCredential.objects.filter(name="revoked-team").update(is_active=False)
    _error(revoked.post("refund.update", message), 401, "invalid_token")


def test_403_for_an_event_type_the_credential_does_not_list(gateway):
    body = _error(
        gateway(["refund.update"]).post("bob.refund_requested", sample_message("bob.refund_requested")),
        403,
        "forbidden",
    )
    assert "bob.refund_requested" in body["message"]


def test_404_for_an_unknown_event_type(gateway):
    _error(gateway().post("refund.nope", sample_message("refund.update")), 404, "unknown_event_type")


def test_415_for_another_content_type_or_charset(gateway):
    producer, message = gateway(), b'{"metadata": {}, "data": {}}'
    _error(producer.post("refund.update", message, content_type="text/plain"), 415, "unsupported_media_type")
    response = producer.post("refund.update", message, content_type="application/json; charset=latin-1")
    _error(response, 415, "unsupported_media_type")


def test_413_for_more_than_1_mb_or_more_than_1000_events(gateway):
    producer = gateway()
    oversize = b"[" + b" " * (1024 * 1024) + b"]"
    _error(producer.post("refund.update", oversize), 413, "payload_too_large")
    _error(producer.post("refund.update", [{}] * 1001), 413, "too_many_events")


def test_400_for_malformed_json_or_a_body_that_is_not_events(gateway):
    producer = gateway()
    body = _error(producer.post("refund.update", b'{"metadata": '), 400, "malformed_json")
    assert "not valid JSON" in body["message"]
    _error(producer.post("refund.update", b"\xff\xfe"), 400, "malformed_json")
    _error(producer.post("refund.update", b"42"), 400, "malformed_request")
    _error(producer.post("refund.update", b"[]"), 400, "malformed_request")


def test_405_for_another_method(gateway):
    response = wsgi_call(RequestFactory().get("/api/events/refund.update").environ)
    _error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def _larger_than_3000_bytes() -> dict:
    large = sample_message("refund.update", _order())
    large["data"]["items"] = [{**large["data"]["items"][0], "item_id": f"i{n}", "reason": "x" * 300} for n in range(20)]
    return large


def test_207_when_the_broker_takes_some_events_and_not_others(gateway, settings, fresh_producers):
    # A client-side size limit refuses the large event the way a broker's would: per record.
    settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES = 3000
    small = sample_message("refund.update", _order())
    large = _larger_than_3000_bytes()

    body = _error(gateway().post("refund.update", [small, large]), 207, "partially_written")

    submitted, failed = body["events"]
    assert submitted["status"] == "submitted"
    assert (submitted["eid"], submitted["topic"]) == (small["metadata"]["eid"], "refund.update.v1")
    record = read_records("refund.update.v1", [(submitted["partition"], submitted["offset"])])
    assert (
        orjson.loads(record[(submitted["partition"], submitted["offset"])].value())["metadata"]["eid"]
        == (small["metadata"]["eid"])
    )
    assert failed["status"] == "failed"
    assert "MSG_SIZE_TOO_LARGE" in failed["errors"][0]["message"]


def test_a_refused_event_leaves_nothing_behind(gateway, settings, fresh_producers):
    """confluent-kafka leaks the exception being handled when produce() raises inside its handler;
    here that exception's traceback would keep the request's frame, and all its records, forever."""
    import gc

    settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES = 3000
    producer = gateway()
    large = _larger_than_3000_bytes()

    def live_kafka_exceptions() -> int:
        gc.collect()
        return sum(type(thing) is KafkaException for thing in gc.get_objects())

    before = live_kafka_exceptions()
    for _ in range(5):
        assert producer.post("refund.update", [large]).status_code == 422
    assert live_kafka_exceptions() == before


def test_422_not_503_when_the_broker_refuses_every_event_for_good(gateway, settings, fresh_producers):
    # "Broker down, retry later" would have the producer retry an event that can never be written.
    settings.REFUNDTOOL_KAFKA_MAX_MESSAGE_BYTES = 3000
    large = _larger_than_3000_bytes()

    response = gateway().post("refund.update", [large])

    body = _error(response, 422, "invalid_events")
    assert "Retry-After" not in response
    [event] = body["events"]
    assert event["status"] == "failed"
    assert "MSG_SIZE_TOO_LARGE" in event["errors"][0]["message"]


def test_503_when_the_broker_is_down(gateway, settings, fresh_producers):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.KAFKA_CLIENT_CONFIG = {"log_level": "0"}  # the refused connections are the point, not news
    settings.EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS = 1000
    batch = [sample_message("refund.update", _order()) for _ in range(3)]

    response = gateway().post("refund.update", batch)

    body = _error(response, 503, "broker_unavailable")
    assert response["Retry-After"]
    assert [event["status"] for event in body["events"]] == ["failed"] * 3
    assert "retry with the same eids" in body["message"]


class _FirstAcknowledgedWithoutOffset:
    """The gateway's producer, but its first record is reported delivered with no offset and never
    sent (see events.messaging.kafka.unconfirmed)."""

    def __init__(self, producer) -> None:
        self.producer = producer
        self.faked = False

    def produce(self, topic, value, key, *, on_delivery, headers) -> None:
        if not self.faked:
            self.faked = True
            on_delivery(None, Message(topic=topic, partition=0))
            return
        self.producer.produce(topic, value, key, on_delivery=on_delivery, headers=headers)

    def __getattr__(self, name):
        return getattr(self.producer, name)


def test_an_event_acknowledged_without_an_offset_is_answered_not_written_and_its_retry_is(
    gateway, spec_topics, fresh_producers
):
    from events.gateway.publisher import gateway_producer

    producer = gateway()
    gateway_producer().producer = _FirstAcknowledgedWithoutOffset(gateway_producer().producer)
    first, second = (sample_message("refund.update", _order()) for _ in range(2))

    body = _error(producer.post("refund.update", [first, second]), 207, "partially_written")

    unconfirmed, submitted = body["events"]
    assert (unconfirmed["eid"], unconfirmed["status"]) == (first["metadata"]["eid"], "failed")
    assert "without an offset" in unconfirmed["errors"][0]["message"]
    assert "retry with the same eid" in unconfirmed["errors"][0]["message"]
    assert submitted["status"] == "submitted"
    retried = producer.post("refund.update", [first])
    assert retried.status_code == 200, retried.content
    [written] = orjson.loads(retried.content)
    at = (written["partition"], written["offset"])
    assert orjson.loads(read_records("refund.update.v1", [at])[at].value())["metadata"]["eid"] == written["eid"]
    assert written["eid"] == first["metadata"]["eid"]


def test_the_specification_is_served(client):
    listing = orjson.loads(client.get("/api/event-types/").content)
    assert {item["topic"] for item in listing} >= {"refund.update.v1", "bob.refund_requested.v1"}
    commands = [item for item in listing if item["name"] == "refund.item_ready_to_refund"]
    assert [command["version"] for command in commands] == [1, 2]  # every version while both are live
    for command in commands:
        assert command["response_event_type"] == "payment.refund_processed"
        response = client.get(command["schema_url"])
        assert response.status_code == 200
        assert response["Content-Type"] == "application/schema+json"
        schema = orjson.loads(response.content)
        spec = get_event_spec("refund.item_ready_to_refund", command["version"])
        assert schema["properties"]["data"] == spec.message_schema["properties"]["data"]

    asyncapi = orjson.loads(client.get("/api/asyncapi.json").content)
    assert asyncapi["asyncapi"] == "3.0.0"
    _error(client.get("/api/event-types/refund.nope/schema"), 404, "unknown_event_type", publishing=False)
    _error(client.get("/api/event-types/refund.update/schema?version=9"), 404, "unknown_event_type", publishing=False)
    error = _error(
        client.get("/api/event-types/refund.update/schema?version=x"), 400, "invalid_query", publishing=False
    )
    assert [detail["path"] for detail in error["details"]] == ["/query/version"]


@pytest.mark.django_db
def test_admin_issues_a_token_once_stores_only_its_hash_and_the_token_works(spec_topics):
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    browser = Client()
    browser.force_login(admin_user)
    response = browser.post(
        "/admin/events/producercredential/add/",
        {"name": "bob-kz", "event_types": ["refund.update"], "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    [notice] = [str(message) for message in response.context["messages"] if "Token of" in str(message)]
    token = notice.split("Token of bob-kz: ")[1].split(" ")[0]
    credential = ProducerCredential.objects.get(name="bob-kz")
    assert token.startswith(credential.token_prefix)
    assert token not in str(ProducerCredential.objects.filter(pk=credential.pk).values().get())
    assert Gateway(token, "bob-kz").post("refund.update", sample_message("refund.update", _order())).status_code == 200

    change_url = f"/admin/events/producercredential/{credential.pk}/change/"
    assert browser.get(change_url).status_code == 200
    browser.post(change_url, {"name": "bob-kz", "event_types": ["bob.refund_requested"], "is_active": "on"})
    credential.refresh_from_db()
    assert credential.event_types == ["bob.refund_requested"]
    assert Gateway(token, "bob-kz").post("refund.update", sample_message("refund.update")).status_code == 403

    browser.post(
        "/admin/events/producercredential/",
        {"action": "issue_new_token", "_selected_action": [credential.pk]},
    )
    assert Gateway(token).post("bob.refund_requested", sample_message("bob.refund_requested")).status_code == 401


def test_threads_of_one_process_share_the_producer_and_each_gets_its_own_reports(
    spec_topics, settings, fresh_producers
):
    """A threaded server (refundtool.web) publishes from several threads through one producer.

    The report thread serves every thread's delivery reports; frequent thread switches make every
    interleaving likely, such as a report served before its own thread has left produce().
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor

    settings.EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS = 2000  # a lost report fails the test in seconds
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    from events.gateway.services import events_publish

    def publish(_: int) -> tuple[list, list]:
        batch = [sample_message("refund.update", _order()) for _ in range(50)]
        written = events_publish(event_type="refund.update", events=batch)
        return [event["eid"] for event in written], [m["metadata"]["eid"] for m in batch]

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(publish, range(24)))
    finally:
        sys.setswitchinterval(previous_interval)
    for written_eids, eids in results:
        assert written_eids == eids


def _written(deliveries: list) -> list[bool]:
    """For each delivery report, whether it says the record was written (a Message, not a Refusal)."""
    from confluent_kafka import Message

    return [isinstance(delivery, Message) for delivery in deliveries]


def _publish_timed(records: list) -> tuple[list, float]:
    import time

    from events.gateway.publisher import publish_batch

    started = time.monotonic()
    deliveries = publish_batch(records)
    return deliveries, time.monotonic() - started


def test_a_request_alone_is_sent_at_once_and_one_beside_waiting_requests_lingers_to_go_with_them(
    spec_topics, settings, fresh_producers
):
    from events.contracts.envelope import kafka_record
    from events.gateway.publisher import gateway_producer

    settings.EVENTS_GATEWAY_LINGER_MS = 1500
    records = [kafka_record(sample_message("refund.update", _order())) for _ in range(4)]
    producer = gateway_producer()
    # Connecting and getting an idempotent producer id take up to a second on a busy machine: not
    # what this test times.
    assert _written(_publish_timed(records[3:])[0]) == [True]

    alone, alone_seconds = _publish_timed(records[:1])
    assert _written(alone) == [True]
    assert alone_seconds < 0.75  # not held for the linger

    producer._waiting += 1  # as if another request of this process were waiting for its reports
    try:
        beside, beside_seconds = _publish_timed(records[1:3])
    finally:
        producer._waiting -= 1
    assert _written(beside) == [True, True]
    assert beside_seconds >= 1.2  # held for the linger, to share the produce request


def test_the_report_thread_goes_on_after_a_delivery_callback_raises(spec_topics, settings, fresh_producers, caplog):
    from events.contracts.envelope import kafka_record
    from events.gateway.publisher import gateway_producer

    settings.EVENTS_GATEWAY_DELIVERY_TIMEOUT_MS = 1000  # a dead report thread fails the test in seconds
    first, second = (kafka_record(sample_message("refund.update", _order())) for _ in range(2))

    def broken(error, message):
        raise RuntimeError("a broken delivery callback")

    import time

    gateway_producer().producer.produce(first.topic, first.value, first.key, on_delivery=broken)
    deadline = time.monotonic() + 10
    while "could not be served" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)  # the report thread is the only one serving reports until the next publish
    assert "could not be served" in caplog.text

    deliveries, _ = _publish_timed([second])
    assert _written(deliveries) == [True]


def test_the_report_thread_carries_a_name_the_os_shows(spec_topics, fresh_producers):
    """top -H, ps -L and bench.gateway tell the report thread's CPU time from the request threads' by it."""
    import time
    from pathlib import Path

    from events.gateway.publisher import REPORT_THREAD_NAME, gateway_producer

    comm = Path(f"/proc/self/task/{gateway_producer()._report_thread.native_id}/comm")
    deadline = time.monotonic() + 5
    while comm.read_text().strip() != REPORT_THREAD_NAME and time.monotonic() < deadline:
        time.sleep(0.01)  # the thread names itself as it starts
    assert comm.read_text().strip() == REPORT_THREAD_NAME
