"""The shared vectors (events/contracts/vectors/) against Python: our validator and the DTOs."""

import json
from typing import Any

import jsonschema_rs
import pytest

from events.contracts import dtos
from events.contracts.generation import CONTRACTS_DIR
from events.contracts.specification import all_event_specs, spec_for_topic
from events.contracts.validation import CONTROL_MESSAGE, message_errors, validate_message

_MESSAGES = {"required": "is required", "additionalProperties": "is not a field of this event type"}


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for spec in all_event_specs():
        document = json.loads((CONTRACTS_DIR / "vectors" / f"{spec.topic}.json").read_text())
        cases.extend((spec.topic, vector) for vector in document[kind])
    return cases


def _id(case: tuple[str, dict[str, Any]]) -> str:
    return f"{case[0]}:{case[1]['name']}"


def test_every_event_type_and_version_has_valid_and_invalid_vectors():
    topics = {spec.topic for spec in all_event_specs()}
    assert {topic for topic, _ in _vectors("valid")} == topics
    assert {topic for topic, _ in _vectors("invalid")} == topics


@pytest.mark.parametrize("case", _vectors("valid"), ids=_id)
def test_a_valid_vector_passes_the_validator_and_the_dto_round_trip(case):
    topic, vector = case
    message = vector["message"]
    assert validate_message(message["metadata"]["event_type"], message) == []
    data = message["data"]
    dto = dtos.DTO_BY_TOPIC[topic].from_data(data)
    assert dtos.DTO_BY_TOPIC[topic].from_data(dto.to_data()) == dto
    # to_data writes money with 2 places and date-times in isoformat: equal in value, not in text
    assert set(dto.to_data()) == set(data)


@pytest.mark.parametrize("case", _vectors("invalid"), ids=_id)
def test_an_invalid_vector_gets_exactly_the_recorded_errors(case):
    topic, vector = case
    message = vector["message"]
    # The version is the topic's: a message missing metadata.version gets its topic's errors.
    errors = message_errors(spec_for_topic(topic), message)
    assert [error.path for error in errors] == [error["path"] for error in vector["errors"]]
    for error, recorded in zip(errors, vector["errors"], strict=True):
        if recorded["code"] in _MESSAGES:
            assert error.message == _MESSAGES[recorded["code"]]
        elif recorded["code"] == "control_characters":
            assert error.message == CONTROL_MESSAGE
        elif recorded["code"] == "const":
            assert error.message.startswith("must be ")


@pytest.mark.parametrize("case", _vectors("invalid"), ids=_id)
def test_the_json_schema_alone_refuses_every_invalid_vector_with_the_recorded_keyword(case):
    """What the Go and PHP types cannot refuse alone (patterns, lengths, formats), their schema does."""
    topic, vector = case
    schema = json.loads((CONTRACTS_DIR / "schemas" / f"{topic}.json").read_text())
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    codes = {error["code"] for error in vector["errors"]}
    if codes == {"control_characters"}:  # our validator's own rule, beyond the schema
        assert validator.is_valid(vector["message"])
    else:
        assert not validator.is_valid(vector["message"])
