"""The Redis cache holds JSON: it never unpickles what Redis gives it."""

import pickle
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.cache import cache

VALUES = [{"token": "abc", "groups": ["a", "b"], "at_ms": 1, "lag": 0.5, "ok": True, "none": None}, "text", 7, 1.5]


def test_values_go_to_redis_as_json_and_come_back(redis_client):
    assert settings.CACHES["default"]["OPTIONS"]["serializer"] == "refundtool.cache.JsonSerializer"
    for number, value in enumerate(VALUES):
        cache.set(f"json-{number}", value)
        assert cache.get(f"json-{number}") == value
    assert redis_client.get(cache.make_and_validate_key("json-0")).startswith(b'{"token":"abc"')
    assert cache.get("json-1") == "text"
    assert cache.incr("json-2", 3) == 10  # integers stay raw, so incr works


def test_a_pickle_in_redis_is_never_unpickled(redis_client):
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickled: a cache that loads pickle would run this",))

    redis_client.set(cache.make_and_validate_key("planted"), pickle.dumps(Boom()))
    with pytest.raises(UnicodeDecodeError):  # json reads text; a pickle is bytes
        cache.get("planted")


def test_a_value_json_cannot_hold_fails_when_stored(redis_client):
    with pytest.raises(TypeError):
        cache.set("when", datetime(2026, 1, 1, tzinfo=UTC))
