"""Create and check integration keys. The secret is shown once; only its SHA-256 is stored.

Checking a key reads a short-lived copy of its row from the shared cache (Redis) instead of the database. What
callers may rely on:
- A revoked, changed or deleted key is refused from the next request on, in every process: every save or delete
  of a key writes a tombstone over its cache entry (before and again after the commit), a tombstone sends the
  check to the database, and a fresh entry is only ever *added* (never written over a tombstone), so a request
  that read the row just before the revocation cannot put it back.
- Only keys that act for a tool are cached; a key acting for a person is read with its user every time (the
  person's role or active flag may change).
- With no shared cache (the embedded default's per-process memory), or with the cache down, every check reads
  the database, as before. A cache error never fails the request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tickets.models import ApiKey

logger = logging.getLogger(__name__)

KEY_PREFIX = "cxr_"
CACHE_KEY = "apikey:v1:{prefix}"
TOMBSTONE = "db"  # "ask the database": written over an entry when its key changes
# Outlives any entry (cache_seconds()) and any request that read the row before the change and adds it late.
TOMBSTONE_SECONDS = 300
WARN_EVERY_SECONDS = 60.0
_last_warning = 0.0
LAST_USED_EVERY_SECONDS = 60
# When this process last recorded each key's use (the cached row's last_used_at may be older).
_last_used_written: dict[int, datetime] = {}
CACHED_FIELDS = ("pk", "name", "prefix", "hashed_key", "scopes", "created_at", "last_used_at")


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str  # the whole key to hand to the integrator; never stored


def _hash(secret: str) -> str:
    # Keys are 256-bit random values, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def cache_seconds() -> int:
    """How long a key's row may be served from the cache; 0 when there is no cache shared by all processes
    (a revocation in one process must reach the others)."""
    configured = getattr(settings, "API_KEY_CACHE_SECONDS", None)
    if configured is not None:
        return int(configured)
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return 30 if backend.endswith(("RedisCache", "MemcachedCache", "PyMemcacheCache", "PyLibMCCache")) else 0


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
    prefix = parts[1]
    seconds = cache_seconds()
    api_key = _cached(prefix) if seconds else None
    if api_key is None:
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
        if api_key is not None and seconds and api_key.user_id is None:
            _remember(api_key, seconds)
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _hash(secret)):
        return None
    _record_use(api_key)
    return api_key


def _record_use(api_key: ApiKey) -> None:
    # Throttle the write: record use at most once a minute per key (and per process).
    now = timezone.now()
    last = max(filter(None, (api_key.last_used_at, _last_used_written.get(api_key.pk))), default=None)
    if last is None or (now - last).total_seconds() > LAST_USED_EVERY_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        _last_used_written[api_key.pk] = now
        api_key.last_used_at = now


def _cached(prefix: str) -> ApiKey | None:
    try:
        entry = cache.get(CACHE_KEY.format(prefix=prefix))
    except Exception as exc:  # noqa: BLE001 - any cache error: the database answers
        _warn(exc)
        return None
    if not isinstance(entry, dict):
        return None  # a miss, or a tombstone
    api_key = ApiKey(**{("id" if k == "pk" else k): v for k, v in entry.items()})
    api_key._state.adding, api_key._state.db = False, "default"
    return api_key


def _remember(api_key: ApiKey, seconds: int) -> None:
    entry = {name: getattr(api_key, name) for name in CACHED_FIELDS}
    try:
        # add, never set: a tombstone written by a revocation since our read stays in place.
        cache.add(CACHE_KEY.format(prefix=api_key.prefix), entry, seconds)
    except Exception as exc:  # noqa: BLE001
        _warn(exc)


def api_key_forget(prefix: str) -> None:
    """Make every process read this key from the database from now on (see the module docstring)."""

    def tombstone() -> None:
        try:
            cache.set(CACHE_KEY.format(prefix=prefix), TOMBSTONE, TOMBSTONE_SECONDS)
        except Exception as exc:  # noqa: BLE001
            # The cache is unreachable, so no process can read a stale entry from it now either; entries live
            # cache_seconds() at most.
            logger.error("Could not mark API key %s… as changed in the cache (%s: %s)", prefix, type(exc).__name__, exc)

    tombstone()  # before the commit: no request may read the old row from the cache after it
    transaction.on_commit(tombstone)  # and after: covers a fill that raced with the first one


def _warn(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if _last_warning and now - _last_warning < WARN_EVERY_SECONDS:
        return
    _last_warning = now
    logger.warning("API key cache unavailable (%s: %s); reading the database", type(exc).__name__, exc)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke the key. It is refused from the next request on, in every process (tested)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])  # the post_save receiver forgets the cached copy
    return api_key


def forget_changed_key(sender: Any, instance: ApiKey, created: bool = False, **kwargs: Any) -> None:
    """post_save / post_delete of ApiKey (connected in TicketsConfig.ready): revocation, new scopes, deletion."""
    if instance.prefix and not created:
        api_key_forget(instance.prefix)
