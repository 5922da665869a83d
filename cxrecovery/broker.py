"""Kombu's Redis transport, with one redis-py client per channel instead of one per message published.

kombu's redis Channel builds a new redis.Redis for every message it puts on a queue (conn_or_acquire without a
client); redis-py 8 fills a table of ~170 response callbacks in each, a third of what publishing intake's
assessment task cost. The client holds no per-call state (each command takes a connection from the channel's
pool) so the channel keeps one, and makes a new one whenever the channel replaces its pool (after a fork or a
connection error). Used when CELERY_BROKER_URL is a redis:// URL (settings.CELERY_BROKER_TRANSPORT).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _reused_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._reused_client
        if client is None or client.connection_pool is not pool:
            client = self._reused_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
