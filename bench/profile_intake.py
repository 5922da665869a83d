"""CPU cost of single intake, in-process: where the gunicorn worker's milliseconds per complaint go.

    .venv/bin/python -m bench.profile_intake                 # intake and the API floor, 1,000 requests each
    .venv/bin/python -m bench.profile_intake -n 2000 --endpoints intake --top 40

POSTs the bench's complaint mix (bench/data.py) through Django's WSGI handler, as gunicorn would call it, with the
bench's production-like settings (DEBUG off, PostgreSQL, Redis as broker and cache, the throttle on). Reports CPU
time of this process (time.process_time, which other processes on a shared machine do not inflate) per request,
first unprofiled, then split by component with cProfile (its own overhead inflates every figure, so the split is
scaled to the unprofiled total). PostgreSQL's own CPU is not counted: it is another process.

Needs PostgreSQL and Redis; the database is migrated on first use and keeps its rows between runs (each run uses
fresh external ids). Variables: PROFILE_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/cxr_intake_prof),
PROFILE_REDIS_URL (default redis://127.0.0.1:6379/13 for the broker; the cache uses the next lower db number).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
from collections.abc import Callable

DATABASE_URL = os.environ.get("PROFILE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cxr_intake_prof")
REDIS_URL = os.environ.get("PROFILE_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE = "cxr_profile"
WARMUP = 100

# Components of a request, each the cumulative time of one function (file suffix, function name). They nest
# (logging the complaint contains finding the customer), so they do not add up; "request" is the whole.
COMPONENTS: list[tuple[str, str, str]] = [
    ("request (WSGI handler)", "django/core/handlers/wsgi.py", "__call__"),
    ("  DRF authentication (API key)", "tickets/api/auth.py", "authenticate"),
    ("  throttle", "tickets/api/throttling.py", "allow_request"),
    ("  permission check", "tickets/permissions.py", "has_permission"),
    ("  parsing the JSON body", "rest_framework/request.py", "_parse"),
    ("  validating the input", "rest_framework/serializers.py", "run_validation"),
    ("  complaint_log (up to its COMMIT)", "tickets/services/intake.py", "complaint_log"),
    ("    customer_resolve", "tickets/services/customers.py", "customer_resolve"),
    ("    complaint INSERT (insert_unless_known)", "tickets/bulk.py", "insert_unless_known"),
    ("    timeline event (event_write)", "tickets/events.py", "event_write"),
    ("    webhook publish check", "tickets/webhook_payloads.py", "publish"),
    ("    complaint_logged receiver (on_commit hook)", "recovery/escalation/receivers.py", "assess_logged_complaint"),
    ("  COMMIT and the on-commit hooks", "django/db/transaction.py", "__exit__"),
    ("    on-commit: publishing the assessment task", "notifications/queue.py", "send"),
    ("  answer: the serializer (before)", "rest_framework/serializers.py", "data"),
    ("  answer: complaint_answer", "tickets/api/answers.py", "complaint_answer"),
    ("  rendering the JSON", "rest_framework/renderers.py", "render"),
    ("  DRF finalize_response / negotiation", "rest_framework/views.py", "finalize_response"),
]


def setup() -> None:
    broker_db = int(REDIS_URL.rsplit("/", 1)[1])
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": DATABASE_URL,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "API_THROTTLE_RATE": "100000/s",
            "LOG_LEVEL": "WARNING",
            "SECURE_SSL_REDIRECT": "false",
            "CELERY_BROKER_URL": REDIS_URL,
            "CACHE_URL": REDIS_URL.rsplit("/", 1)[0] + f"/{broker_db - 1}",
            "CELERY_QUEUE": QUEUE,
            "CELERY_EMAIL_QUEUE": f"{QUEUE}.email",
            "DB_CONN_MAX_AGE": "3600",
        }
    )
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )


def redis_cleanup() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = [*client.scan_iter(f"{QUEUE}*"), *client.scan_iter(f"_kombu.binding.{QUEUE}*")]
    if keys:
        client.delete(*keys)


def caller(token: str) -> Callable[[str, bytes], int]:
    """A WSGI call as gunicorn makes it: returns the status code."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def post(path: str, body: bytes) -> int:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        result = handler(environ, lambda s, headers, exc_info=None: status.append(s))
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
        return int(status[0].split()[0])

    return post


def payloads(count: int, offset: int) -> list[bytes]:
    from bench import data

    return [json.dumps(p).encode() for p in data.complaint_payloads(count, seed=42, start=offset)]


def fresh_offset() -> int:
    """Numbering no earlier run used, so every complaint is new (201) as in the bench."""
    from tickets.models import Complaint

    last = Complaint.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return 10_000_000 + last * 3


def run(post: Callable[[str, bytes], int], path: str, bodies: list[bytes], expect: int = 201) -> float:
    start = time.process_time()
    for body in bodies:
        code = post(path, body)
        if code != expect:
            raise SystemExit(f"{path} answered {code}, expected {expect}")
    return (time.process_time() - start) / len(bodies)


def components(stats: pstats.Stats, scale: float, count: int) -> list[tuple[str, float]]:
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _, name), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        for _, suffix, func in COMPONENTS:
            if suffix and name == func and filename.endswith(suffix):
                # Same-named functions of one file (Serializer.data calls BaseSerializer.data) nest: the outermost.
                cumulative[(suffix, func)] = max(cumulative.get((suffix, func), 0.0), ct)
    rows = []
    for label, suffix, func in COMPONENTS:
        if suffix:
            rows.append((label, cumulative.get((suffix, func), 0.0) * scale / count))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="requests per endpoint (default 1,000)")
    parser.add_argument("--endpoints", default="intake,apifloor", help="comma-separated: intake, apifloor, floor")
    parser.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    parser.add_argument("--rounds", type=int, default=3, help="unprofiled rounds of -n requests; the lowest counts "
                        "(other processes on a shared machine only ever add to it: caches, frequency)")
    parser.add_argument("--no-profile", action="store_true", help="only the unprofiled CPU per request")
    args = parser.parse_args()

    setup()
    from tickets.apikeys import api_key_create
    from tickets.models import ApiKey

    token = api_key_create(name="profile", scopes=[ApiKey.Scope.COMPLAINTS_READ, ApiKey.Scope.COMPLAINTS_WRITE]).secret
    post = caller(token)
    paths = {"intake": "/api/v1/complaints/", "apifloor": "/bench/floor/api/", "floor": "/bench/floor/"}
    try:
        for endpoint in args.endpoints.split(","):
            path = paths[endpoint]
            offset = fresh_offset()
            run(post, path, payloads(WARMUP, offset + 5_000_000))
            rounds = [run(post, path, payloads(args.n, offset + 100_000 * r)) for r in range(args.rounds)]
            plain = min(rounds)
            print(f"{endpoint}: {plain * 1000:.2f} ms CPU per request, unprofiled (lowest of "
                  f"{', '.join(f'{r * 1000:.2f}' for r in rounds)} in {args.rounds} rounds of {args.n})")
            if args.no_profile:
                continue
            bodies = payloads(args.n, fresh_offset() + 1_000_000)
            profiler = cProfile.Profile(time.process_time)
            start = time.process_time()
            profiler.enable()
            for body in bodies:
                post(path, body)
            profiler.disable()
            profiled = (time.process_time() - start) / len(bodies)
            stats = pstats.Stats(profiler)
            scale = plain / profiled
            print(f"  profiled {profiled * 1000:.2f} ms per request; components scaled by {scale:.2f} to the unprofiled cost:")
            rows = components(stats, scale, len(bodies))
            total = rows[0][1] if rows else 0.0
            inner = sum(ms for label, ms in rows[1:] if label.startswith("  ") and not label.startswith("    "))
            for label, ms in rows:
                print(f"    {label:<50} {ms * 1000:6.2f} ms")
            print(f"    {'(request minus the listed top-level parts)':<50} {(total - inner) * 1000:6.2f} ms")
            if args.top:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
                print(out.getvalue())
    finally:
        redis_cleanup()


if __name__ == "__main__":
    main()
