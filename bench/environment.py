"""The benchmark's world: a fresh PostgreSQL database, the server's environment, Django in this process.

The bench process and gunicorn share one environment, so what the sections do in-process (seeding,
calling services) lands in the same database the server answers from.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cxr_bench"
# Redis DB 15 and a queue of our own, so a developer's worker never picks up the bench's messages.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
CELERY_QUEUE = "cxr_bench"
# High enough that the throttle never answers 429, with a one-second window so its per-key
# history stays as short as a production budget keeps it.
THROTTLE_RATE = "100000/s"

FLOOR_TABLE_SQL = """
CREATE TABLE bench_floor (
    id bigserial PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str  # "" runs tasks eagerly and caches in process memory

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        )

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")


def redis_reachable(url: str) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def recreate_database(config: Config) -> None:
    """DROP and CREATE the bench database. Refuses names without 'bench' unless BENCH_ALLOW_DROP=1."""
    name = config.database_name
    if not name:
        raise SystemExit(f"BENCH_DATABASE_URL names no database: {config.database_url}")
    if "bench" not in name and os.environ.get("BENCH_ALLOW_DROP") != "1":
        raise SystemExit(
            f"Refusing to drop database '{name}': the benchmark drops and re-creates its database. "
            "Use a name containing 'bench', or set BENCH_ALLOW_DROP=1 if you really mean it."
        )
    parts = urlsplit(config.database_url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class RunLock:
    """One benchmark run per database at a time, across engineers sharing the machine.

    A PostgreSQL advisory lock held on a connection to the maintenance database for the whole run:
    a second `make bench` waits for the first instead of dropping its database mid-run.
    """

    def __init__(self, config: Config) -> None:
        parts = urlsplit(config.database_url)
        self._url = urlunsplit(parts._replace(path="/postgres"))
        self._key = f"cxr-bench:{config.database_name}"
        self._conn: psycopg.Connection | None = None

    def acquire(self, *, timeout: float, on_wait: Callable[[], None]) -> None:
        conn = psycopg.connect(self._url, autocommit=True)
        deadline = time.monotonic() + timeout
        waited = False
        while not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [self._key]).fetchone()[0]:
            if time.monotonic() > deadline:
                conn.close()
                raise SystemExit(f"Another benchmark run still holds {self._key} after {timeout:.0f}s; giving up.")
            if not waited:
                on_wait()
                waited = True
            time.sleep(2)
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # closing the session releases the lock
            self._conn = None


def server_env(config: Config, *, use_redis: bool) -> dict[str, str]:
    """Production-like settings for gunicorn and for Django in this process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": config.database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": THROTTLE_RATE,
        "LOG_LEVEL": "WARNING",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": config.redis_url if use_redis else "",
        "CACHE_URL": config.redis_url if use_redis else "",
        "CELERY_QUEUE": CELERY_QUEUE,
        # Emails have their own queue; name it after the bench's so redis_cleanup drops its messages too.
        "CELERY_EMAIL_QUEUE": f"{CELERY_QUEUE}.email",
        # Keep each worker's PostgreSQL session for the whole run (production reconnects every 60 s):
        # a session that ends takes its CPU time with it, and the intake section measures that time.
        # One reconnect a minute costs a few milliseconds, so the figures are otherwise the same.
        "DB_CONN_MAX_AGE": "3600",
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    return env


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def prepare_database() -> None:
    """Migrate, collect static files (DEBUG off serves them from STATIC_ROOT) and make the floor's table."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLE_SQL)


def api_key_for_bench() -> str:
    from tickets.apikeys import api_key_create
    from tickets.models import ApiKey

    new = api_key_create(name="bench", scopes=[ApiKey.Scope.COMPLAINTS_READ, ApiKey.Scope.COMPLAINTS_WRITE])
    return new.secret


def redis_cleanup(config: Config) -> None:
    """Drop the messages queued for the bench's queue (no worker consumes them) and the throttle keys."""
    if not redis_reachable(config.redis_url):
        return
    import redis

    client = redis.Redis.from_url(config.redis_url)
    keys = [*client.scan_iter(f"{CELERY_QUEUE}*"), *client.scan_iter(f"_kombu.binding.{CELERY_QUEUE}*")]
    keys += list(client.scan_iter(":1:throttle_principal_*"))
    if keys:
        client.delete(*keys)
