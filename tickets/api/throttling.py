from __future__ import annotations

import logging
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from tickets.models import ApiKey

logger = logging.getLogger(__name__)

# With the cache down every request would log; one warning per this many seconds (per process) is enough.
WARN_EVERY_SECONDS = 60.0
_last_warning = 0.0


class PrincipalRateThrottle(SimpleRateThrottle):
    """One budget per API key, per signed-in person, or per address for anonymous calls.

    Fails open: when the cache (Redis) cannot be reached the request goes through unthrottled, because a
    complaint refused for want of a counter would be lost work, and a warning is logged once a minute."""

    scope = "principal"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        try:
            backend = caches["default"]
            if isinstance(backend, RedisCache):
                return self._allow_redis(request, view, backend)
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - redis-py, socket and pickle errors alike mean "no counter"
            _warn_cache_down(exc)
            return True

    def _allow_redis(self, request, view, cache: RedisCache) -> bool:
        """A sliding-window counter in one Redis round trip: INCR this window's counter (with its expiry) and
        read the previous window's, pipelined; the previous window counts in proportion to how much of it is
        still inside the last `duration` seconds. (DRF's own throttle reads and rewrites a pickled list of
        every request's time: two round trips, and a list as long as the budget.)"""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        into = (now % self.duration) / self.duration
        current = cache.make_and_validate_key(f"{self.key}:{window}")
        previous = cache.make_and_validate_key(f"{self.key}:{window - 1}")
        client = cache._cache.get_client(current, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, int(self.duration * 2) + 1)
        pipe.get(previous)
        count, _, before = pipe.execute()
        estimate = int(before or 0) * (1 - into) + count
        if estimate <= self.num_requests:
            return True
        self._wait = self.duration * (1 - into)
        return False

    def wait(self):
        if getattr(self, "_wait", None) is not None:
            return self._wait
        return super().wait()


def _warn_cache_down(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS or _last_warning == 0.0:
        _last_warning = now
        logger.warning("API throttling is off: the cache cannot be reached (%s: %s). Requests are let through.",
                       type(exc).__name__, exc)
