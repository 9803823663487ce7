"""The cache holds JSON, never pickle: in Redis, and in the files that stand in for it locally."""

from __future__ import annotations

import json
import time
from typing import IO, Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.files import locks


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


class JsonFileBasedCache(FileBasedCache):
    """Django's file cache, storing what JsonSerializer stores in Redis.

    The service without REDIS_URL keeps its cache in files. With Django's pickle there, a value that
    Redis would refuse (a datetime) worked locally and failed only in production; and a file planted
    in the cache folder ran code. A file is its expiry as a JSON line, then the value. Files of
    another format (Django's pickles) count as expired and are deleted, never read.
    """

    cache_suffix = ".json"
    _serializer = JsonSerializer()

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        try:
            with open(self._key_to_file(key, version), "rb") as f:
                if not self._is_expired(f):
                    return self._serializer.loads(f.read())
        except FileNotFoundError:
            pass
        return default

    def touch(self, key: str, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            with open(self._key_to_file(key, version), "r+b") as f:
                try:
                    locks.lock(f, locks.LOCK_EX)
                    if self._is_expired(f):
                        return False
                    value = f.read()
                    f.seek(0)
                    f.truncate()
                    self._write_expiry(f, timeout)
                    f.write(value)
                    return True
                finally:
                    locks.unlock(f)
        except FileNotFoundError:
            return False

    def _write_content(self, file: IO[bytes], timeout: float | None, value: Any) -> None:
        data = self._serializer.dumps(value)
        self._write_expiry(file, timeout)
        file.write(str(data).encode() if type(data) is int else data)

    def _write_expiry(self, file: IO[bytes], timeout: float | None) -> None:
        file.write(json.dumps(self.get_backend_timeout(timeout)).encode() + b"\n")

    def _is_expired(self, f: IO[bytes]) -> bool:
        try:
            expiry = json.loads(f.readline())
            if not (expiry is None or isinstance(expiry, int | float)):
                raise ValueError(expiry)
        except ValueError:  # empty, or not ours: what is not understood is not read
            expiry = 0
        if expiry is not None and expiry < time.time():
            f.close()
            self._delete(f.name)
            return True
        return False
