"""The Redis cache backend reuses one redis-py client per pool (cxrecovery/cache.py) and still fails like Django's."""

from __future__ import annotations

import socket

import pytest
import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from cxrecovery.cache import RedisCache


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_cache_builds_one_client_per_pool_not_one_per_call(monkeypatch):
    built = []
    original = redis.Redis.__init__
    monkeypatch.setattr(redis.Redis, "__init__", lambda self, *a, **k: (built.append(1), original(self, *a, **k))[1])
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0", {})

    clients = {id(cache._cache.get_client("a", write=True)) for _ in range(5)}
    clients |= {id(cache._cache.get_client("b")) for _ in range(5)}

    assert len(clients) == 1 and len(built) == 1
    assert isinstance(cache, DjangoRedisCache)  # the throttle's one-round-trip path recognises it


def test_redis_cache_with_redis_down_raises_on_every_call_as_djangos_does():
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1}})

    for _ in range(2):  # the shared client does not keep a broken connection: every call tries again
        with pytest.raises(redis.ConnectionError):
            cache.get("k")


def test_settings_use_the_reusing_backend_with_a_cache_url():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'])"
    env = {**os.environ, "CACHE_URL": "redis://127.0.0.1:6379/0", "DJANGO_SETTINGS_MODULE": "cxrecovery.settings"}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=60, check=True,
    )

    assert result.stdout.strip() == "cxrecovery.cache.RedisCache"


def test_broker_channel_builds_one_redis_client_per_pool_not_one_per_message(monkeypatch):
    # cxrecovery/broker.py leans on kombu's private Channel._create_client: after a kombu upgrade this says whether
    # publishing still reuses its client (docs/operations.md, "Upgrading").
    import os

    from kombu import Connection

    from tests.conftest import require_service

    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis"):
        require_service("needs Redis as the broker: set CELERY_BROKER_URL=redis://...")
    built = []
    original = redis.Redis.__init__
    with Connection(url, transport="cxrecovery.broker:Transport") as connection:
        channel = connection.default_channel
        monkeypatch.setattr(redis.Redis, "__init__", lambda self, *a, **k: (built.append(1), original(self, *a, **k))[1])
        clients = set()
        for _ in range(5):
            with channel.conn_or_acquire() as client:  # what every message put on a queue goes through
                clients.add(id(client))

    assert len(clients) == 1 and len(built) <= 1
