"""List latency: GET /api/v1/complaints/ with 200,000 complaints in the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.db import connection
from django.http import QueryDict

from bench import seed
from bench.client import Answer, Client
from bench.core import Context, section
from bench.load import LoadResult, follow_next, run_sequential

COMPLAINTS = 200_000
CUSTOMERS = 50_000
PAGE_SIZE = 50
TARGET_P95 = 0.050  # seconds (issue 2)
BUDGET = 30.0  # seconds per variant at most (after 30 requests), so a slow query cannot stall the run
URL = "/api/v1/complaints/"


def _get(client: Client, url: str) -> Answer:
    return client.get(url)


def _page_check(*, full: bool = False, match: Callable[[dict], bool] | None = None, nonempty: bool = False):
    """A response check: a full page of results, every result matching, or at least one result."""

    def check(response: Answer) -> str | None:
        results = response.json().get("results")
        if not isinstance(results, list):
            return "no 'results' list in the answer"
        if full and len(results) != PAGE_SIZE:
            return f"expected a full page of {PAGE_SIZE}, got {len(results)}"
        if nonempty and not results:
            return "expected at least one result"
        if match and not all(match(r) for r in results):
            return "a result does not match the filter"
        return None

    return check


def _explain(params: dict[str, str], *, verbose: bool) -> float:
    """Run the list's query under EXPLAIN ANALYZE; the database's share of the latency (seconds)."""
    from tickets import selectors
    from tickets.filters import ComplaintFilter

    query = QueryDict(mutable=True)
    query.update(params)
    qs = ComplaintFilter(data=query, queryset=selectors.complaint_list()).qs.order_by("-created_at", "-id")
    plan = qs[: PAGE_SIZE + 1].explain(analyze=True, buffers=True)
    if verbose:
        print(plan, flush=True)
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split()[2]) / 1000
    return float("nan")


def _seed(ctx: Context) -> tuple[int, int]:
    t0 = time.perf_counter()
    total, customers = ctx.scaled(COMPLAINTS), ctx.scaled(CUSTOMERS)
    inserted = ctx.seed_complaints(total, customers_total=customers)
    seed.analyze()
    ctx.log(
        f"seeded {inserted:,} complaints (now {total:,}, {customers:,} customers) in {time.perf_counter() - t0:.1f}s"
    )
    return total, customers


def _customer_to_find() -> tuple[str, str]:
    """An old, rarely-complaining customer's email, and a surname: what an agent types into search."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT cu.email FROM tickets_complaint co JOIN tickets_customer cu ON cu.id = co.customer_id
            WHERE cu.email IS NOT NULL ORDER BY co.created_at, co.id OFFSET (SELECT count(*) / 4 FROM tickets_complaint)
            LIMIT 1
            """
        )
        (email,) = cursor.fetchone()
    return email, "Harrington"


def _deep_start(offset: int) -> str:
    """created_before for a page starting `offset` complaints down the newest-first list."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT created_at FROM tickets_complaint ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1", [offset]
        )
        row = cursor.fetchone()
    return row[0].isoformat() if row else ""


@section(
    "list", order=20, help="GET /api/v1/complaints/ p50/p95 at 200,000 complaints: default, filter, search, cursors"
)
def list_latency(ctx: Context) -> None:
    total, _ = _seed(ctx)
    server = ctx.server()
    email, surname = _customer_to_find()
    n = ctx.scaled(300, minimum=20)
    variants: list[tuple[str, dict[str, str], int, Callable]] = [
        ("default order", {}, n, _page_check(full=True)),
        (
            "filter status=new&cause=pricing",
            {"status": "new", "cause": "pricing"},
            n,
            _page_check(match=lambda r: r["status"] == "new" and r["cause"] == "pricing"),
        ),
        ("search a surname", {"q": surname}, n, _page_check(nonempty=True)),
        ("search one customer's email", {"q": email}, ctx.scaled(100, minimum=20), _page_check(nonempty=True)),
    ]
    ctx.log(f"{server.describe()}; {n} sequential requests per variant, page_size={PAGE_SIZE}")
    with ctx.client() as client:
        run_sequential(client, [f"{URL}?page_size={PAGE_SIZE}"] * 20, _get)  # warm-up, untimed
        meter = ctx.cpu_meter()
        for label, params, count, check in variants:
            url = f"{URL}?{urlencode({**params, 'page_size': PAGE_SIZE})}"
            result = run_sequential(client, [url] * count, _get, check=check, budget=BUDGET)
            _report(ctx, label, result)
            db = _explain(params, verbose=ctx.explain)
            cut = f", stopped after {BUDGET:.0f}s" if result.timing.count < count else ""
            ctx.log(f"  {label}: {result.timing.describe()}{cut}  (SQL alone: {db * 1000:.1f} ms)")

        pages = ctx.scaled(300, minimum=10)
        walk = follow_next(client, f"{URL}?page_size={PAGE_SIZE}", pages, check=_page_check(full=True))
        _report(ctx, f"next cursor × {len(walk.timing.samples)} pages from newest", walk)
        ctx.log(f"  cursor walk from newest: {walk.timing.describe()}")

        offset = int(total * 0.9)
        deep_url = f"{URL}?{urlencode({'created_before': _deep_start(offset), 'page_size': PAGE_SIZE})}"
        deep_pages = min(ctx.scaled(100, minimum=10), (total - offset) // PAGE_SIZE - 1)
        deep = follow_next(client, deep_url, deep_pages, check=_page_check(full=True))
        _report(ctx, f"next cursor × {len(deep.timing.samples)} pages from {offset:,} deep", deep)
        ctx.log(f"  cursor walk from {offset:,} deep: {deep.timing.describe()}")
    ctx.note_others("list requests", meter.stop())


def _report(ctx: Context, label: str, result: LoadResult) -> None:
    if not result.ok:
        ctx.log(f"{label}: {result.failure_summary()}")
        ctx.fail(f"{label}: {len(result.failures)} requests failed")
    ctx.record(f"{label} p50", result.timing.p50, "s")
    ctx.check(f"{label} p95", result.timing.p95, "s", at_most=TARGET_P95)
