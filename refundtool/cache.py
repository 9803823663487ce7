"""The Redis cache's serializer: JSON, never pickle."""

from __future__ import annotations

import json


class JsonSerializer:
    """Django's RedisCache serializer (OPTIONS "serializer") in JSON.

    Django's default unpickles whatever the cache holds, so anyone who can write to Redis could run
    code in every process. JSON reads back only data; a value JSON cannot hold (a datetime, a
    Decimal, a model) fails when it is stored, not when it is read. Integers stay raw, as in
    Django's, so that incr() and decr() work.
    """

    def dumps(self, obj: object) -> bytes | int:
        if type(obj) is int:  # not bool, which JSON keeps as true/false
            return obj
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def loads(self, data: bytes) -> object:
        try:
            return int(data)
        except ValueError:
            return json.loads(data)
