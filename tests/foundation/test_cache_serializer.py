"""The cache holds JSON, in Redis and in the files that stand in for it without REDIS_URL: it never
unpickles what it is given, and a value JSON cannot hold fails in development as in production."""

import os
import pickle
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.cache import cache as redis_cache

from refundtool.cache import JsonFileBasedCache

VALUES = [{"token": "abc", "groups": ["a", "b"], "at_ms": 1, "lag": 0.5, "ok": True, "none": None}, "text", 7, 1.5]


class Boom:
    def __reduce__(self):
        return (pytest.fail, ("unpickled: a cache that loads pickle would run this",))


@pytest.fixture(params=["redis", "files"])
def cache(request, tmp_path):
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        assert settings.CACHES["default"]["OPTIONS"]["serializer"] == "refundtool.cache.JsonSerializer"
        return redis_cache
    return JsonFileBasedCache(str(tmp_path / "cache"), {})


def stored(cache, key: str) -> bytes:
    """What the cache keeps for `key`, as bytes."""
    if isinstance(cache, JsonFileBasedCache):
        with open(cache._key_to_file(key), "rb") as f:
            return f.read()
    return redis_cache._cache.get_client(key).get(cache.make_and_validate_key(key))


def plant(cache, key: str, data: bytes) -> None:
    if isinstance(cache, JsonFileBasedCache):
        cache.set(key, "placeholder")
        with open(cache._key_to_file(key), "wb") as f:
            f.write(data)
    else:
        redis_cache._cache.get_client(key, write=True).set(cache.make_and_validate_key(key), data)


def test_values_are_stored_as_json_and_come_back(cache):
    for number, value in enumerate(VALUES):
        cache.set(f"json-{number}", value)
        assert cache.get(f"json-{number}") == value
    assert b'{"token":"abc"' in stored(cache, "json-0")
    assert cache.incr("json-2", 3) == 10  # integers stay raw, so incr works
    assert cache.add("json-1", "other") is False
    assert cache.get("json-1") == "text"


def test_a_pickle_in_the_cache_is_never_unpickled(cache):
    plant(cache, "planted", pickle.dumps(Boom()))
    if isinstance(cache, JsonFileBasedCache):
        assert cache.get("planted") is None  # not its format: expired, and deleted unread
        assert not os.path.exists(cache._key_to_file("planted"))
    else:
        with pytest.raises(UnicodeDecodeError):  # json reads text; a pickle is bytes
            cache.get("planted")


def test_a_value_json_cannot_hold_fails_when_stored(cache):
    with pytest.raises(TypeError):
        cache.set("when", datetime(2026, 1, 1, tzinfo=UTC))
    assert cache.get("when") is None


def test_a_file_expires_and_touch_extends_it(tmp_path):
    cache = JsonFileBasedCache(str(tmp_path / "cache"), {})
    cache.set("short", {"a": 1}, timeout=1)
    cache.set("forever", [1, 2], timeout=None)
    assert cache.touch("short", timeout=60) is True
    cache.set("gone", "x", timeout=1)
    time.sleep(1.1)
    assert (cache.get("short"), cache.get("forever"), cache.get("gone")) == ({"a": 1}, [1, 2], None)
    assert cache.touch("gone") is False
    assert cache.has_key("forever")
    assert not cache.has_key("gone")
