"""Django's Redis cache, with one Redis client per connection pool instead of one per call,
that degrades to a cache that remembers nothing while Redis is unreachable.

Django's RedisCacheClient.get_client() builds a new ``redis.Redis`` for every cache
operation, and redis-py fills a table of some 170 response callbacks in each one:
about 0.3 ms of CPU per get or set. Throttles and the ledger's seal debounce touch the
cache on every ballot cast, so that was a fifth of a cast's CPU. A ``redis.Redis`` is
safe to share between threads (each command takes a connection from the pool), so one
per pool is enough.

Everything kept in this cache can be lost: throttle counts, the ledger's seal debounce,
cached pages. A ballot cast or a meter batch that arrives while Redis is down must
still be stored (the database is the record; beat seals it later), so a connection
error is logged and answered as a miss instead of failing the request. The hard
limits behind the throttles (one-time credentials, the kiosk PIN lockout, account
locks) are in the database.
"""

from __future__ import annotations

import functools
import logging

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


log = logging.getLogger(__name__)


def _unreachable(default):
    """Answer `default` when Redis cannot be reached, with a warning in the log."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("cache unreachable, %s answered as a miss: %s", method.__name__, exc)
                return default(*args, **kwargs) if callable(default) else default

        return wrapper

    return decorate


def _get_default(key, default=None, version=None):
    return default


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    # What callers see while Redis is down: nothing was cached, nothing could be added.
    get = _unreachable(_get_default)(DjangoRedisCache.get)
    get_many = _unreachable({})(DjangoRedisCache.get_many)
    has_key = _unreachable(False)(DjangoRedisCache.has_key)
    add = _unreachable(False)(DjangoRedisCache.add)
    set = _unreachable(None)(DjangoRedisCache.set)
    set_many = _unreachable(lambda data, *a, **k: list(data))(DjangoRedisCache.set_many)
    touch = _unreachable(False)(DjangoRedisCache.touch)
    delete = _unreachable(False)(DjangoRedisCache.delete)
    delete_many = _unreachable(None)(DjangoRedisCache.delete_many)
