"""Side by side: complaints/s of CX Recovery against tickets/s of the released django-helpdesk (issue 15, item 3).

django-helpdesk comes from PyPI (the newest release that installs on this Python) into its own virtual
environment, `.bench/django-helpdesk-venv` (BENCH_HELPDESK_VENV), created on first use and reused after; it is
never in requirements.txt. It runs from `bench/helpdesk_site` (a minimal project: its REST API with DRF token
auth, PostgreSQL, DEBUG off, email off) on its own database, BENCH_HELPDESK_DATABASE_URL (default: `dh_bench` on
the bench's PostgreSQL server), dropped and re-created on every run.

Both servers run at once under the same gunicorn (the bench's worker count and class); the same load client
(bench.load.run_concurrent, 8 clients) sends the same complaints, mapped onto each API, in alternating rounds
(CX Recovery, django-helpdesk, CX Recovery, …), so both meet the same outside load. Prints each side's rate per
round, the total rates and their ratio (target ≥ 3×). Skips, with the reason, when PostgreSQL is unreachable or
the virtual environment cannot be made (no network, no pip).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import data
from bench.core import Context, section
from bench.load import LoadResult, run_concurrent
from bench.server import BASE_DIR, Gunicorn

ROUNDS = 4  # alternating: 2 per side
PER_ROUND = 1_500
CONCURRENCY = 8
WARMUP = 80
TARGET_RATIO = 3.0
VENV = BASE_DIR / ".bench" / "django-helpdesk-venv"
SITE_DIR = BASE_DIR / "bench"
PRIORITY = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}  # severity 1–5 → helpdesk priority (1 critical … 5 very low)
PIP_TIMEOUT = 900


def venv_path() -> Path:
    return Path(os.environ.get("BENCH_HELPDESK_VENV") or VENV)


def helpdesk_database_url(bench_database_url: str) -> str:
    """BENCH_HELPDESK_DATABASE_URL, or `dh_bench` on the bench's server."""
    explicit = os.environ.get("BENCH_HELPDESK_DATABASE_URL")
    if explicit:
        return explicit
    return urlunsplit(urlsplit(bench_database_url)._replace(path="/dh_bench"))


def helpdesk_ticket(payload: dict) -> dict:
    """The same complaint as django-helpdesk's ticket-create body (its documented fields)."""
    customer = payload.get("customer", {})
    body = {
        "queue": 0,  # filled in per run
        "title": payload["subject"][:200],
        "description": payload.get("description") or payload["subject"],
        "priority": PRIORITY.get(int(payload.get("severity", 3)), 3),
    }
    if customer.get("email"):
        body["submitter_email"] = customer["email"]
    return body


def _ensure_venv(ctx: Context) -> str:
    """The venv's python with django-helpdesk, gunicorn and psycopg installed; skips the section when it can't."""
    venv = venv_path()
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import helpdesk, gunicorn, psycopg, rest_framework.authtoken"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python)
    ctx.log(f"creating {venv} and installing django-helpdesk from PyPI (once)")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "django-helpdesk", "gunicorn", "psycopg[binary]"],
            check=True,
            capture_output=True,
            timeout=PIP_TIMEOUT,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", b"") or b""
        tail = output.decode(errors="replace").strip().splitlines()[-1:] if output else []
        ctx.skip(f"could not install django-helpdesk into {venv} (network or pip unavailable): {' '.join(tail) or exc}")
    if subprocess.run(probe, capture_output=True).returncode != 0:
        ctx.skip(f"django-helpdesk installed into {venv} but does not import")
    return str(python)


def _recreate_database(ctx: Context, url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name and os.environ.get("BENCH_ALLOW_DROP") != "1":
        ctx.fail(f"refusing to drop database '{name}' (no 'bench' in its name; BENCH_ALLOW_DROP=1 overrides)")
    try:
        with psycopg.connect(
            urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True, connect_timeout=5
        ) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        ctx.skip(f"PostgreSQL for django-helpdesk is unreachable: {exc}")


def _rows(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]


@section("helpdesk", order=15, help="Creates/s: CX Recovery vs django-helpdesk (PyPI, own venv and DB), alternating")
def helpdesk(ctx: Context) -> None:
    python = _ensure_venv(ctx)
    url = helpdesk_database_url(ctx.config.database_url)
    _recreate_database(ctx, url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "PYTHONPATH"))},
        "DJANGO_SETTINGS_MODULE": "helpdesk_site.settings",
        "HELPDESK_DATABASE_URL": url,
        "PYTHONPATH": str(SITE_DIR),
    }
    prepared = subprocess.run(
        [python, "-m", "helpdesk_site.prepare"], env=env, cwd=SITE_DIR, capture_output=True, text=True, timeout=600
    )
    if prepared.returncode != 0:
        ctx.fail(f"django-helpdesk's set-up failed:\n{prepared.stderr[-2000:]}")
    setup = json.loads(prepared.stdout.strip().splitlines()[-1])
    ctx.log(f"django-helpdesk {setup['version']} migrated on {urlsplit(url).path.lstrip('/')}")

    ours = ctx.server()
    log_path = Path(tempfile.mkdtemp(prefix="dh-bench-")) / "gunicorn.log"
    theirs = Gunicorn(
        env=env,
        log_path=log_path,
        workers=ours.workers,
        worker_class=ours.worker_class,
        threads=ours.threads,
        python=python,
        app="helpdesk_site.wsgi:application",
        cwd=SITE_DIR,
    )
    theirs.start()
    ctx.log(f"django-helpdesk: {theirs.describe()}; CX Recovery: {ours.describe()}")
    try:
        _compare(ctx, ours, theirs, setup, url)
    finally:
        theirs.stop()


def _compare(ctx: Context, ours: Gunicorn, theirs: Gunicorn, setup: dict, helpdesk_url: str) -> None:
    per_round = ctx.scaled(PER_ROUND, minimum=100)
    rounds = ROUNDS
    payloads = data.complaint_payloads(per_round * rounds, seed=1515, start=20_000_000)
    warm = data.complaint_payloads(WARMUP, seed=99, start=30_000_000)
    headers = {"Authorization": f"Token {setup['token']}", "Content-Type": "application/json"}

    def tickets(items: list[dict]) -> list[bytes]:
        return [json.dumps({**helpdesk_ticket(p), "queue": setup["queue"]}).encode() for p in items]

    def send_ours(items: list[bytes]) -> LoadResult:
        return run_concurrent(
            items,
            lambda client, body: client.post_json("/api/v1/complaints/", body),
            base_url=ours.url,
            token=ctx.api_key,
            concurrency=CONCURRENCY,
        )

    def send_theirs(items: list[bytes]) -> LoadResult:
        return run_concurrent(
            items,
            lambda client, body: client.request("POST", "/api/tickets/", body=body, headers=headers),
            base_url=theirs.url,
            concurrency=CONCURRENCY,
        )

    for label, result in (
        ("CX Recovery warm-up", send_ours([json.dumps(p).encode() for p in warm])),
        ("django-helpdesk warm-up", send_theirs(tickets(warm))),
    ):
        if not result.ok:
            ctx.fail(f"{label}: {result.failure_summary()}")
    before = _rows(helpdesk_url)
    totals = {"CX Recovery": [0, 0.0], "django-helpdesk": [0, 0.0]}
    ctx.log(f"load average before the rounds: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for index in range(rounds):
        chunk = payloads[index * per_round : (index + 1) * per_round]
        # Alternate who goes first in each pair of rounds, so neither always meets a warmer or quieter machine.
        order = ("CX Recovery", "django-helpdesk") if index % 2 == 0 else ("django-helpdesk", "CX Recovery")
        for side in order:
            if side == "CX Recovery":
                result = send_ours([json.dumps(p).encode() for p in chunk])
            else:
                result = send_theirs(tickets(chunk))
            if not result.ok:
                ctx.fail(f"{side}, round {index + 1}: {result.failure_summary()}")
            totals[side][0] += len(chunk)
            totals[side][1] += result.timing.wall
            ctx.log(f"  round {index + 1} {side}: {result.timing.rate:,.1f}/s  {result.timing.describe()}")
            ctx.record(f"round {index + 1} {side} creates/s", result.timing.rate, "/s")
    added = _rows(helpdesk_url) - before
    if added != totals["django-helpdesk"][0]:
        ctx.fail(f"django-helpdesk answered 201 for {totals['django-helpdesk'][0]} tickets but stored {added}")
    rate_ours = totals["CX Recovery"][0] / totals["CX Recovery"][1]
    rate_theirs = totals["django-helpdesk"][0] / totals["django-helpdesk"][1]
    ctx.record("CX Recovery complaints/s (all rounds)", rate_ours, "/s")
    ctx.record("django-helpdesk tickets/s (all rounds)", rate_theirs, "/s")
    ctx.check("CX Recovery / django-helpdesk", rate_ours / rate_theirs, "×", at_least=TARGET_RATIO)
    ctx.log(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {time.strftime('%H:%M:%S')}")
