"""Lists, search, the queue, the inboxes and the outcome metrics at 2,000,000 complaints (issue 15, item 4).

The data (bench/scale_seed.py) is loaded once into a template database and cloned for each run, so a run costs the
copy (about a minute) instead of the load (10–20 minutes). The section replaces the bench database with that copy,
so it runs last and restarts gunicorn; run it alone with `python -m bench scale`.

Measured, sequential requests over one keep-alive connection (server time plus well under a millisecond):
- the API list (`GET /api/v1/complaints/`, bench key) with the common filters, search and cursor pagination —
  p95 ≤ 50 ms each;
- the pages: the agent's queue (open, searched, sorted by risk, overdue), the escalation inbox (lead; manager with
  the tiers below), the approvals inbox (manager; executive with the tiers below) — p95 ≤ 150 ms each;
- the dashboard's outcome metrics computed in-process without the cache (`recovery_metrics_compute`) — ≤ 150 ms;
- grading + 50 escalation rules in-process — ≥ 5,000 complaints/s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.db import connection

from bench.client import Answer, Client
from bench.core import Context, section
from bench.load import LoadResult, follow_next, run_sequential
from bench.section_queue import _user_backend

LIST_P95 = 0.050
PAGE_P95 = 0.150
METRICS_TARGET = 0.150
RULES_TARGET = 5_000
BUDGET = 20.0  # seconds per variant at most (after 30 requests)
PAGE_SIZE = 50
API = "/api/v1/complaints/"


def _setup_database(ctx: Context) -> None:
    """Make the bench database a copy of the 2M template, building the template first when missing or stale."""
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    from bench import environment, scale_seed

    ctx.close()  # gunicorn's sessions would block dropping the database
    ctx._api_key = None  # the key lived in the database being replaced
    config = ctx.config
    complaints, customers = ctx.scaled(scale_seed.COMPLAINTS), ctx.scaled(scale_seed.CUSTOMERS)
    template = scale_seed.template_name(config.database_name)
    if complaints != scale_seed.COMPLAINTS:
        template = f"{template}_{complaints}"
    version = scale_seed.template_version(config.database_url, template)
    if version == scale_seed.SEED_VERSION:
        started = time.perf_counter()
        scale_seed.clone(config.database_url, source=template, target=config.database_name)
        ctx.log(f"cloned template {template} in {time.perf_counter() - started:.0f}s")
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            ctx.log(f"applying {len(plan)} new migration(s) to the copy, then refreshing the template")
            call_command("migrate", interactive=False, verbosity=0)
            scale_seed.clone(config.database_url, source=config.database_name, target=template)
        return
    ctx.log(
        f"template {template} is {'stale (' + version + ')' if version else 'missing'}: loading {complaints:,} "
        f"complaints and {customers:,} customers once (10–20 minutes)"
    )
    connections.close_all()
    environment.recreate_database(config)
    environment.prepare_database()
    started = time.perf_counter()
    scale_seed.build(ctx.log, complaints=complaints, customers=customers)
    ctx.log(f"loaded in {time.perf_counter() - started:.0f}s; saving it as template {template}")
    scale_seed.clone(config.database_url, source=config.database_name, target=template)


def _session_for(username: str, role: str) -> tuple[str, str]:
    """A session cookie (name, value) for a user with this role, created on demand."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group

    user, created = get_user_model().objects.get_or_create(username=username, defaults={"first_name": role.title()})
    if created:
        user.set_unusable_password()  # hashing a real password costs ~0.3 s
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = _user_backend(settings.AUTHENTICATION_BACKENDS)
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return settings.SESSION_COOKIE_NAME, session.session_key


def _busiest_agent() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT assignee_id FROM tickets_complaint WHERE status = 'in_progress' AND assignee_id IS NOT NULL "
            "GROUP BY assignee_id ORDER BY count(*) DESC LIMIT 1"
        )
        return cursor.fetchone()[0]


def _search_terms() -> dict[str, str]:
    """What agents type: an order number from a note, an old customer's email, a surname."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body FROM tickets_comment WHERE complaint_id = (SELECT max(complaint_id) / 3 FROM tickets_comment)"
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute("SELECT body FROM tickets_comment ORDER BY id LIMIT 1 OFFSET 1000")
            row = cursor.fetchone()
        order = next(word.rstrip(".") for word in row[0].split() if word.rstrip(".").isdigit())
        cursor.execute(
            "SELECT cu.email FROM tickets_customer cu WHERE cu.id = (SELECT customer_id FROM tickets_complaint "
            "WHERE id = (SELECT min(id) + 1000 FROM tickets_complaint))"
        )
        (email,) = cursor.fetchone()
    return {"order": order, "email": email, "surname": "Harrington"}


def _api_check(*, full: bool = False, nonempty: bool = False) -> Callable[[Answer], str | None]:
    def check(response: Answer) -> str | None:
        if response.status != 200:
            return f"status {response.status}"
        results = response.json().get("results")
        if not isinstance(results, list):
            return "no 'results' list in the answer"
        if full and len(results) != PAGE_SIZE:
            return f"expected a full page of {PAGE_SIZE}, got {len(results)}"
        if nonempty and not results:
            return "expected at least one result"
        return None

    return check


def _html_check(marker: str) -> Callable[[Answer], str | None]:
    def check(response: Answer) -> str | None:
        if response.status != 200:
            return f"status {response.status}"
        if "text/html" not in response.headers.get("content-type", ""):
            return f"not an HTML page: {response.headers.get('content-type')}"
        if marker not in response.text:
            return f"the page lacks {marker!r}"
        return None

    return check


def _report(ctx: Context, label: str, result: LoadResult, target: float) -> None:
    if not result.ok:
        ctx.log(f"{label}: {result.failure_summary()}")
        ctx.fail(f"{label}: {len(result.failures)} requests failed")
    ctx.record(f"{label} p50", result.timing.p50, "s")
    ctx.check(f"{label} p95", result.timing.p95, "s", at_most=target)
    ctx.log(f"  {label}: {result.timing.describe()}")


def _explain_api(params: dict[str, str]) -> None:
    from django.http import QueryDict

    from tickets import selectors
    from tickets.filters import ComplaintFilter

    query = QueryDict(mutable=True)
    query.update(params)
    qs = ComplaintFilter(data=query, queryset=selectors.complaint_list()).qs.order_by("-created_at", "-id")
    print(qs[: PAGE_SIZE + 1].explain(analyze=True, buffers=True), flush=True)


def _api_lists(ctx: Context, n: int) -> None:
    terms = _search_terms()
    agent = _busiest_agent()
    month_ago = (time_now() - timedelta(days=30)).isoformat()
    variants: list[tuple[str, dict[str, str], Callable]] = [
        ("API default order", {}, _api_check(full=True)),
        ("API status=new&cause=pricing", {"status": "new", "cause": "pricing"}, _api_check(nonempty=True)),
        ("API is_open&grade=ugly", {"is_open": "true", "grade": "ugly"}, _api_check(nonempty=True)),
        ("API escalated&is_open", {"escalated": "true", "is_open": "true"}, _api_check(nonempty=True)),
        (
            "API assignee=<agent>&status=in_progress",
            {"assignee": str(agent), "status": "in_progress"},
            _api_check(nonempty=True),
        ),
        ("API overdue=true", {"overdue": "true"}, _api_check(nonempty=True)),
        ("API severity_min=4&channel=social", {"severity_min": "4", "channel": "social"}, _api_check(full=True)),
        (
            "API cause=service_delay, last 30 days",
            {"cause": "service_delay", "created_after": month_ago},
            _api_check(nonempty=True),
        ),
        ("API search a surname", {"q": terms["surname"]}, _api_check(nonempty=True)),
        ("API search an order number in a note", {"q": terms["order"]}, _api_check(nonempty=True)),
        ("API search a common word", {"q": "refund"}, _api_check(full=True)),
        ("API search two words", {"q": "hold provider"}, _api_check(nonempty=True)),
        ("API search a customer's email", {"q": terms["email"]}, _api_check(nonempty=True)),
        ("API search a rare word (no match)", {"q": "zeppelin"}, _api_check()),
    ]
    with ctx.client() as client:
        run_sequential(client, [f"{API}?page_size={PAGE_SIZE}"] * 20, Client.get)  # warm-up, untimed
        for label, params, check in variants:
            url = f"{API}?{urlencode({**params, 'page_size': PAGE_SIZE})}"
            result = run_sequential(client, [url] * n, Client.get, check=check, budget=BUDGET)
            _report(ctx, label, result, LIST_P95)
            if ctx.explain:
                _explain_api(params)
        walk = follow_next(
            client, f"{API}?page_size={PAGE_SIZE}", ctx.scaled(100, minimum=10), check=_api_check(full=True)
        )
        _report(ctx, "API next cursor × 100 pages from newest", walk, LIST_P95)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT created_at FROM tickets_complaint ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                [int(ctx.scaled(1_800_000))],
            )
            (deep,) = cursor.fetchone()
        deep_url = f"{API}?{urlencode({'created_before': deep.isoformat(), 'page_size': PAGE_SIZE})}"
        walk = follow_next(client, deep_url, ctx.scaled(50, minimum=10), check=_api_check(full=True))
        _report(ctx, "API next cursor × 50 pages from 1,800,000 deep", walk, LIST_P95)


def time_now():
    from django.utils import timezone

    return timezone.now()


def _pages(ctx: Context, n: int) -> None:
    from bench.section_queue import _signed_in_agent

    server = ctx.server()
    sessions = {
        "agent": _signed_in_agent(),
        "lead": _session_for("bench_scale_lead", "lead"),
        "manager": _session_for("bench_scale_manager", "manager"),
        "executive": _session_for("bench_scale_executive", "executive"),
    }
    queue = _html_check('class="col-reference"')
    variants: list[tuple[str, str, str, Callable]] = [
        ("page queue: open, newest first", "agent", "/complaints/", queue),
        ("page queue: search a surname", "agent", "/complaints/?q=Harrington", queue),
        ("page queue: search two words", "agent", "/complaints/?q=hold+provider", queue),
        ("page queue: sorted by risk", "agent", "/complaints/?sort=-risk", queue),
        ("page queue: overdue", "agent", "/complaints/?overdue=true", queue),
        ("page queue: assignee=me", "agent", "/complaints/?assignee=me", queue),
        ("page escalations: lead", "lead", "/escalations/", _html_check("CX-")),
        ("page escalations: manager and below", "manager", "/escalations/?below=1", _html_check("CX-")),
        ("page escalations: manager, handled", "manager", "/escalations/?show=handled", _html_check("<html")),
        ("page approvals: manager", "manager", "/approvals/", _html_check("CX-")),
        ("page approvals: executive and below", "executive", "/approvals/?below=1", _html_check("CX-")),
        ("page approvals: executive, decided", "executive", "/approvals/?show=decided", _html_check("CX-")),
    ]
    clients = {
        role: Client(server.url, headers={"Accept": "text/html", "Cookie": f"{name}={value}"})
        for role, (name, value) in sessions.items()
    }
    try:
        for client in clients.values():
            run_sequential(client, ["/complaints/"] * 5, Client.get)  # warm-up, untimed
        for label, role, url, check in variants:
            result = run_sequential(clients[role], [url] * n, Client.get, check=check, budget=BUDGET)
            _report(ctx, label, result, PAGE_P95)
    finally:
        for client in clients.values():
            client.close()


def _metrics(ctx: Context) -> None:
    """Build the rollup as the settle sweep keeps it (timed), then time the dashboard's computation without the
    cache: the rollup-backed default view, and once the direct queries it replaces (what it cost before)."""
    from bench.stats import Timing
    from recovery.outcomes.metrics import MetricsFilter, recovery_metrics_compute
    from recovery.outcomes.services.rollup import outcome_rollup_rebuild

    started = time.perf_counter()
    rows = outcome_rollup_rebuild()
    ctx.record("metrics rollup rebuilt from scratch", time.perf_counter() - started, "s")
    ctx.log(f"  metrics rollup rebuilt from scratch: {rows} rows in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    recovery_metrics_compute(MetricsFilter(), source="direct")
    ctx.record("dashboard metrics, direct queries (one run)", time.perf_counter() - started, "s")
    samples = []
    deadline = time.monotonic() + 60
    for _ in range(ctx.scaled(30, minimum=3)):
        started = time.perf_counter()
        recovery_metrics_compute(MetricsFilter())
        samples.append(time.perf_counter() - started)
        if time.monotonic() > deadline and len(samples) >= 3:
            break
    timing = Timing.of(samples)
    ctx.log(f"  dashboard metrics, uncached: {timing.describe()}")
    ctx.record("dashboard metrics uncached p50", timing.p50, "s")
    ctx.check("dashboard metrics uncached p95", timing.p95, "s", at_most=METRICS_TARGET)


def _rules(ctx: Context) -> None:
    from dataclasses import replace

    from bench.section_escalation import fifty_rules, random_signals_and_facts
    from recovery.escalation.grading import DEFAULT_CONFIG, grade_experience
    from recovery.escalation.rules import evaluate

    rules = fifty_rules()
    cases = random_signals_and_facts(ctx.scaled(20_000, minimum=2_000))
    started = time.perf_counter()
    for signals, facts in cases:
        grade = grade_experience(signals, DEFAULT_CONFIG)
        evaluate(rules, replace(facts, grade=grade.grade, score=grade.score))
    rate = len(cases) / (time.perf_counter() - started)
    ctx.check("grade + 50 rules in-process", rate, "/s", at_least=RULES_TARGET)


@section(
    "scale", order=90, help="Lists, search, queue, inboxes, metrics at 2,000,000 complaints (a cloned template DB)"
)
def scale(ctx: Context) -> None:
    _setup_database(ctx)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'tickets_complaint'")
        ctx.log(f"about {cursor.fetchone()[0]:,} complaints; gunicorn restarts on the copy")
    ctx.server()
    n = ctx.scaled(100, minimum=20)
    meter = ctx.cpu_meter()
    _api_lists(ctx, n)
    _pages(ctx, n)
    ctx.note_others("scale requests", meter.stop())
    _metrics(ctx)
    _rules(ctx)
