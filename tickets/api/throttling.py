from __future__ import annotations

import logging
import time

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
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - redis-py, socket and pickle errors alike mean "no counter"
            _warn_cache_down(exc)
            return True


def _warn_cache_down(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS or _last_warning == 0.0:
        _last_warning = now
        logger.warning("API throttling is off: the cache cannot be reached (%s: %s). Requests are let through.",
                       type(exc).__name__, exc)
