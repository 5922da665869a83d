"""Django's Redis cache, with one redis-py client per connection pool instead of one per cache call.

Django's RedisCacheClient.get_client builds a new redis.Redis for every get, set or pipeline; redis-py 8 fills a
table of ~170 response callbacks in each one, which cost intake about 0.1 ms per cache call (three or four a
request: the API key, the throttle, the webhook subscriptions). A redis.Redis holds no per-call state (connections
come from its pool per command) and is safe to share between threads, so one per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))  # pools live as long as this object, so their ids stay theirs
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """settings.CACHES BACKEND "cxrecovery.cache.RedisCache": django.core.cache.backends.redis.RedisCache otherwise."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
