"""Django's Redis cache backend, sharing one client per pool and riding out a Redis outage.

Django's own client makes a new `redis.Redis` for every cache call; on a page served from the
cache that costs more than the round trip itself. A client is safe to share: the pool under it
hands each call its own connection.

Redis is only a cache here: losing it must make the shop slower, never unavailable. A Redis
error is therefore logged and answered as an empty cache would answer: a read misses, a write
stores nothing, `add` succeeds (the key was not there), `incr` finds no key. After a failure the
process leaves Redis alone for `RETRY_AFTER` seconds, so a page doesn't wait on a connect
timeout for every key it asks for; the first call after that tries Redis again. The outage is
logged once when it starts and once when Redis answers again, not for every call.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Seconds a process skips Redis after a failed call.
RETRY_AFTER = 5.0


class _SharedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class _Outage:
    """Whether one Redis location is failing, shared by every thread of the process.

    Django makes a cache object per thread; the outage is a fact about the server, so all of
    them skip it together and only one of them logs.
    """

    _lock = threading.Lock()
    _by_location = {}

    @classmethod
    def of(cls, location):
        with cls._lock:
            return cls._by_location.setdefault(location, cls(location))

    def __init__(self, location):
        self.location = location
        self.failing = False
        self.skip_until = 0.0

    def skipping(self):
        return time.monotonic() < self.skip_until

    def failed(self, exc):
        with self._lock:
            self.skip_until = time.monotonic() + RETRY_AFTER
            started, self.failing = not self.failing, True
        if started:
            logger.warning(
                "Redis cache at %s is unreachable (%s: %s); serving without it, retrying "
                "every %s s",
                self.location,
                exc.__class__.__name__,
                exc,
                RETRY_AFTER,
            )

    def answered(self):
        if not self.failing:
            return
        with self._lock:
            ended, self.failing = self.failing, False
        if ended:
            logger.warning("Redis cache at %s answers again", self.location)


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClients
        self._outage = _Outage.of(",".join(self._servers))

    def _call(self, name, fallback, *args, **kwargs):
        """`name` of Django's backend, or `fallback` while Redis is failing."""
        if self._outage.skipping():
            return fallback
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except RedisError as exc:
            self._outage.failed(exc)
            return fallback
        self._outage.answered()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", True, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._call("incr", missing, key, delta, version)
        if result is missing:
            raise ValueError(f"Key '{key}' not found.")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def clear(self):
        return self._call("clear", False)

    def ping(self):
        """Ask Redis itself, past the outage skip: raises the Redis error when it is down."""
        self._cache.get_client(write=True).ping()
