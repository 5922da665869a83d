"""Create and check integration keys. The secret is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tickets.models import ApiKey

KEY_PREFIX = "cxr_"


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str  # the whole key to hand to the integrator; never stored


def _hash(secret: str) -> str:
    # Keys are 256-bit random values, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], user=None) -> NewKey:
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(sorted(unknown))}. Choose from: {', '.join(ApiKey.Scope.values)}.")
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(name=name, prefix=prefix, hashed_key=_hash(secret), scopes=sorted(set(scopes)), user=user)
    return NewKey(api_key=api_key, secret=secret)


def api_key_check(secret: str) -> ApiKey | None:
    """The active key matching this secret, or None. Constant-time comparison of the hash."""
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(KEY_PREFIX):
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _hash(secret)):
        return None
    now = timezone.now()
    # Throttle the write: record use at most once a minute per key.
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
