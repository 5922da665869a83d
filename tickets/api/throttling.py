from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from tickets.models import ApiKey


class PrincipalRateThrottle(SimpleRateThrottle):
    """One budget per API key, per signed-in person, or per address for anonymous calls."""

    scope = "principal"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
