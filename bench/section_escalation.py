"""Escalation (issue 4): how fast the rules judge complaints, and how fast the SLA sweep finds the due ones.

- rule_evaluation: grade + evaluate in-process with 50 active rules, complaints/s (pure Python, no database),
  and the full `complaint_assess` service (lock, load, grade, evaluate, fingerprint) against PostgreSQL.
- sla_sweep: the sweep's set-based selection of due ids over 1,000,000 complaints of which 10,000 are past
  a deadline and not yet acted on — the worst case after a broker outage or a long pause of beat.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from decimal import Decimal

from django.db import connection

from bench.core import Context, section
from bench.stats import time_calls

RULES = 50
FACTS = 20_000
EVAL_TARGET = 1_000  # complaints/s in one process: 3.6 million judgements an hour per worker, far above any intake
COMPLAINTS = 1_000_000
OVERDUE = 10_000
SWEEP_TARGET = 5.0  # seconds (issue 4)


def fifty_rules() -> list:
    """50 validated, active rules of realistic shapes: the three defaults and 47 more over every kind of field."""
    from recovery.escalation.rules import DEFAULT_RULES, validate_rule

    rng = random.Random(7)
    raws = [dict(r, id=i + 1) for i, r in enumerate(DEFAULT_RULES)]
    shapes = [
        lambda: [{"field": "severity", "operator": "gte", "value": rng.randint(3, 5)}],
        lambda: [
            {
                "field": "cause",
                "operator": "in",
                "value": rng.sample(["staff_conduct", "failed_fix", "ignored", "pricing"], 2),
            },
            {"field": "grade", "operator": "gte", "value": rng.choice(["neutral", "bad"])},
        ],
        lambda: [{"field": "lifetime_value", "operator": "gt", "value": rng.choice([1000, 5000, 20000])}],
        lambda: [
            {"field": "social_reach", "operator": "gte", "value": rng.choice([5000, 10000, 50000])},
            {"field": "threatens_public", "operator": "eq", "value": True},
        ],
        lambda: [
            {"field": "hours_unanswered", "operator": "gt", "value": rng.choice([4, 8, 24, 48])},
            {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
        ],
        lambda: [{"field": "tags", "operator": "contains", "value": rng.choice(["vip", "legal-threat", "press"])}],
        lambda: [
            {"field": "channel", "operator": "eq", "value": rng.choice(["social", "phone", "email"])},
            {"field": "score", "operator": "gte", "value": rng.randint(40, 80)},
        ],
    ]
    actions = [
        lambda: {"type": "escalate", "value": rng.choice(["lead", "manager", "executive"])},
        lambda: {"type": "set_response_deadline", "value": rng.choice([1, 4, 8, 24])},
        lambda: {"type": "tag", "value": rng.choice(["watch", "priority", "second-failure"])},
        lambda: {"type": "notify", "value": rng.choice(["lead", "manager", "assignee", "escalation_tier"])},
        lambda: {"type": "set_priority", "value": rng.choice(["high", "urgent"])},
    ]
    while len(raws) < RULES:
        raws.append(
            {
                "id": len(raws) + 1,
                "name": f"Bench rule {len(raws) + 1}",
                "order": 100 + len(raws),
                "match": rng.choice(["all", "any"]),
                "conditions": rng.choice(shapes)(),
                "actions": [rng.choice(actions)() for _ in range(rng.randint(1, 3))],
                "time_based": rng.random() < 0.1,
            }
        )
    return [validate_rule(raw) for raw in raws]


def random_signals_and_facts(n: int) -> list[tuple]:
    from recovery.escalation.grading import GradeSignals
    from recovery.escalation.rules import ComplaintFacts
    from recovery.vocabulary import CAUSES

    rng = random.Random(11)
    out = []
    for _ in range(n):
        signals = GradeSignals(
            cause=rng.choice(CAUSES),
            severity=rng.randint(1, 5),
            lifetime_value=Decimal(rng.randint(0, 30000)),
            social_reach=int(rng.paretovariate(1.2) * 100),
            threatens_public=rng.random() < 0.07,
            says_wont_return=rng.random() < 0.1,
            public_post=rng.random() < 0.03,
            legal_or_media_threat=rng.random() < 0.02,
            repeat_complaints_90d=rng.choice([0, 0, 0, 1, 2]),
            hours_unanswered=rng.random() * 60,
            monetary_loss=Decimal(rng.randint(0, 3000)),
            currency="GBP",
        )
        facts = ComplaintFacts(
            grade=None,
            score=None,
            cause=signals.cause,
            severity=signals.severity,
            channel=rng.choice(["web", "social", "phone", "email"]),
            lifetime_value=signals.lifetime_value,
            social_reach=signals.social_reach,
            repeat=signals.repeat_complaints_90d > 0,
            hours_unanswered=signals.hours_unanswered,
            status=rng.choice(["new", "in_progress", "waiting_on_customer"]),
            tier=rng.choice(["frontline", "frontline", "lead"]),
            tags=frozenset(rng.sample(["vip", "press", "x"], rng.randint(0, 1))),
            threatens_public=signals.threatens_public,
            says_wont_return=signals.says_wont_return,
            response_overdue=rng.random() < 0.05,
            resolution_overdue=rng.random() < 0.05,
        )
        out.append((signals, facts))
    return out


@section(
    "rule_evaluation",
    order=55,
    help="Grade + evaluate 50 active rules in-process (complaints/s), and complaint_assess on PostgreSQL",
)
def rule_evaluation(ctx: Context) -> None:
    from recovery.escalation.grading import DEFAULT_CONFIG, grade_experience
    from recovery.escalation.rules import evaluate

    rules = fifty_rules()
    cases = random_signals_and_facts(ctx.scaled(FACTS, minimum=1000))

    def judge_all() -> int:
        escalated = 0
        for signals, facts in cases:
            grade = grade_experience(signals, DEFAULT_CONFIG)
            decision = evaluate(rules, replace(facts, grade=grade.grade, score=grade.score)).decision
            escalated += decision.escalated
        return escalated

    started = time.perf_counter()
    escalated = judge_all()
    elapsed = time.perf_counter() - started
    rate = len(cases) / elapsed
    ctx.log(
        f"{len(cases):,} complaints graded and judged by {len(rules)} rules in {elapsed:.2f}s ({escalated:,} escalated)"
    )
    only_rules = [(replace(f, grade="bad", score=50)) for _, f in cases]
    started = time.perf_counter()
    for facts in only_rules:
        evaluate(rules, facts)
    rules_rate = len(only_rules) / (time.perf_counter() - started)
    ctx.record("evaluate only (50 rules)", rules_rate, "/s")
    ctx.check("grade + evaluate (50 rules)", rate, "/s", at_least=EVAL_TARGET)

    _assess_rate(ctx, rules)


def _assess_rate(ctx: Context, specs: list) -> None:
    """The whole service per complaint (row lock, queries, grading, 50 rules, fingerprint, writes) on PostgreSQL."""
    from recovery.escalation.services import complaint_assess
    from recovery.models import EscalationRule
    from tickets.models import Complaint

    EscalationRule.objects.exclude(pk__in=[s.id for s in specs[:3]]).delete()
    EscalationRule.objects.bulk_create(
        [
            EscalationRule(
                name=s.name,
                order=s.order,
                match=s.match,
                time_based=s.time_based,
                conditions=[c.to_dict() for c in s.conditions],
                actions=[a.to_dict() for a in s.actions],
            )
            for s in specs[3:]
        ]
    )
    ctx.seed_complaints(
        ctx.scaled(20_000, minimum=2_000), customers_total=ctx.scaled(10_000, minimum=1_000), timeline=False
    )
    ids = list(
        Complaint.objects.filter(status__in=["new", "in_progress"])
        .order_by("-id")
        .values_list("pk", flat=True)[: ctx.scaled(2_000, minimum=200)]
    )
    Complaint.objects.filter(pk__in=ids).update(assessed_at=None, grade="", tier="frontline")
    started = time.perf_counter()
    for complaint_id in ids:
        complaint_assess(complaint_id=complaint_id, trigger="bench")
    first = time.perf_counter() - started
    started = time.perf_counter()
    unchanged = sum(complaint_assess(complaint_id=c, trigger="bench").outcome == "unchanged" for c in ids)
    again = time.perf_counter() - started
    if unchanged != len(ids):
        ctx.fail(f"re-assessing unchanged complaints changed {len(ids) - unchanged} of them")
    ctx.record("complaint_assess, first time (50 rules)", len(ids) / first, "/s")
    ctx.record("complaint_assess, unchanged (no-op)", len(ids) / again, "/s")
    EscalationRule.objects.filter(name__startswith="Bench rule").delete()


def _shape_overdue(total_due: int) -> int:
    """Exactly `total_due` running complaints past a deadline that no assessment has acted on; every other
    running complaint past a deadline was assessed after it passed (the sweep has been keeping up)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH running_late AS (
                SELECT id FROM tickets_complaint
                WHERE status IN ('new', 'in_progress')
                  AND ((response_due_at <= now() AND first_response_at IS NULL) OR resolution_due_at <= now())
            ), chosen AS (SELECT id FROM running_late ORDER BY id DESC LIMIT %(n)s)
            UPDATE tickets_complaint c
            SET assessed_at = CASE WHEN c.id IN (SELECT id FROM chosen) THEN c.created_at + interval '1 minute'
                                   ELSE now() END
            WHERE c.id IN (SELECT id FROM running_late)
            """,
            {"n": total_due},
        )
        cursor.execute(
            "SELECT count(*) FROM tickets_complaint WHERE status IN ('new', 'in_progress') "
            "AND ((response_due_at <= now() AND first_response_at IS NULL) OR resolution_due_at <= now())"
        )
        late = cursor.fetchone()[0]
        if late < total_due:
            # Not enough open late complaints in the seeded shape: make some more.
            cursor.execute(
                """
                UPDATE tickets_complaint SET status = 'in_progress', resolution_due_at = now() - interval '1 hour',
                       assessed_at = now() - interval '2 hours'
                WHERE id IN (SELECT id FROM tickets_complaint WHERE status = 'closed' ORDER BY id DESC LIMIT %(n)s)
                """,
                {"n": total_due - late},
            )
        cursor.execute("VACUUM ANALYZE tickets_complaint")
    return late


def _due_query(limit: int):
    """The same query as recovery.escalation.selectors.sla_due_ids, for EXPLAIN."""
    from django.db.models import F, Q
    from django.utils import timezone

    from tickets.models import Complaint

    now = timezone.now()
    return (
        Complaint.objects.filter(
            (
                Q(response_due_at__lte=now, first_response_at__isnull=True)
                & (Q(assessed_at__isnull=True) | Q(assessed_at__lt=F("response_due_at")))
            )
            | (
                Q(resolution_due_at__lte=now)
                & (Q(assessed_at__isnull=True) | Q(assessed_at__lt=F("resolution_due_at")))
            ),
            status__in=["new", "in_progress"],
        )
        .order_by()
        .values_list("pk", flat=True)[:limit]
    )


@section("sla_sweep", order=56, help="SLA sweep: select the due ids among 1,000,000 complaints, 10,000 of them overdue")
def sla_sweep(ctx: Context) -> None:
    from django.utils import timezone

    from recovery.escalation import selectors

    n, due = ctx.scaled(COMPLAINTS), ctx.scaled(OVERDUE)
    started = time.monotonic()
    ctx.seed_complaints(n, customers_total=ctx.scaled(50_000), timeline=False)
    late = _shape_overdue(due)
    ctx.log(
        f"{n:,} complaints, {late:,} running ones past a deadline, {due:,} of them not yet acted on "
        f"(seeded in {time.monotonic() - started:.0f}s)"
    )

    ids = selectors.sla_due_ids(now=timezone.now())
    if len(ids) != due:
        ctx.fail(f"the sweep selected {len(ids):,} due complaints, expected {due:,}")
    if ctx.explain:
        ctx.log("\n" + _due_query(due).explain(analyze=True, buffers=True))
    timing = time_calls(lambda: selectors.sla_due_ids(now=timezone.now()), n=5, warmup=1)
    ctx.record_timing("due-id selection", timing)
    work = time_calls(lambda: selectors.sla_sweep_work(now=timezone.now()), n=3, warmup=1)
    ctx.record_timing("whole sweep selection (due + regrade + never assessed)", work)
    ctx.check(f"due ids among {n:,}", timing.p95, "s", at_most=SWEEP_TARGET)
