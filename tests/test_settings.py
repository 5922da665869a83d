from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "CRITICAL"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )


def test_settings_refuse_to_start_with_debug_off_and_no_secret_key():
    result = run_check(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_settings_refuse_the_development_key_with_debug_off():
    result = run_check(DEBUG="false", SECRET_KEY="dev-insecure-cxrecovery-key-do-not-use-in-production")

    assert result.returncode != 0


def test_settings_start_with_debug_off_and_a_real_key():
    result = run_check(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="cx.example.com")

    assert result.returncode == 0, result.stderr


def test_settings_default_to_sqlite_and_eager_celery():
    code = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    clean["DJANGO_SETTINGS_MODULE"] = "cxrecovery.settings"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.split() == ["django.db.backends.sqlite3", "True"]


# Two writers on the embedded SQLite file, as the web server and a Celery worker are: each transaction reads, then
# writes. Deferred transactions fail with "database is locked" when a read turns into a write behind another
# writer; the settings' IMMEDIATE mode makes the second wait its turn instead.
TWO_WRITERS = """
import threading, time, django
django.setup()
from django.db import connection, transaction
with connection.cursor() as c:
    c.execute("CREATE TABLE tally (n integer)")
errors = []
def work():
    try:
        for _ in range(15):
            with transaction.atomic():
                with connection.cursor() as c:
                    c.execute("SELECT count(*) FROM tally")
                    time.sleep(0.005)
                    c.execute("INSERT INTO tally VALUES (1)")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()
threads = [threading.Thread(target=work) for _ in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM tally")
    print(c.fetchone()[0], errors)
"""


def test_two_writers_on_the_embedded_sqlite_file_both_succeed(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL"}}
    clean.update(DJANGO_SETTINGS_MODULE="cxrecovery.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'cx.sqlite3'}")
    out = subprocess.run([sys.executable, "-c", TWO_WRITERS], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "30 []"


def _site_url(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL", "PORT"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="cxrecovery.settings")
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip()


def test_site_url_follows_the_served_port_unless_set():
    assert _site_url() == "http://127.0.0.1:8000"
    assert _site_url(PORT="8123") == "http://127.0.0.1:8123"
    assert _site_url(PORT="8123", SITE_URL="https://cx.example.com/") == "https://cx.example.com"


def test_bin_run_passes_the_port_on_to_its_children():
    script = (ROOT / "bin" / "run").read_text()
    assert "export PORT" in script
