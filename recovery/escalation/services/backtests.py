"""Backtests: replay the complaints of a past period through candidate rules, in a task, and report what
would have changed. A run moves queued → running → done/failed only through its transition table."""


from __future__ import annotations

import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from notifications.queue import enqueue_on_commit
from recovery.escalation import selectors as sel
from recovery.escalation.facts import complaint_facts, grade_signals, hours_unanswered
from recovery.escalation.grading import GradingConfig, grade_experience
from recovery.escalation.rules import ComplaintFacts, RuleSpec, RuleValidationError, evaluate, validate_rule
from recovery.escalation.services.common import to_json
from recovery.escalation.services.rules import actor_user
from recovery.models import BACKTEST_TRANSITIONS, BacktestRun
from recovery.transitions import transition
from recovery.vocabulary import TIERS
from tickets.actors import ActorRef
from tickets.errors import InvalidInput
from tickets.models import Complaint, Status, Tier

logger = logging.getLogger(__name__)


# --- backtest ----------------------------------------------------------------------------------

BACKTEST_MAX_DAYS = 365
BACKTEST_CHUNK = 500


def candidate_rules_parse(raw: Any) -> list[RuleSpec]:
    """A candidate rule set (a list of rules) or InvalidInput with errors keyed 'rules[2].conditions[0].field'."""
    if not isinstance(raw, list):
        raise InvalidInput("The candidate rules must be a list of rules.", fields={"rules": ["Give a JSON list of rules."]})
    specs, errors = [], {}
    for i, item in enumerate(raw):
        try:
            specs.append(validate_rule(item))
        except RuleValidationError as exc:
            for path, messages in exc.errors.items():
                errors[f"rules[{i}].{path}"] = messages
    if errors:
        raise InvalidInput("Some candidate rules are not valid; nothing was run.", fields=errors)
    return specs


@transaction.atomic
def backtest_start(*, days: int, candidate_rules: Any, actor: ActorRef) -> BacktestRun:
    """Queue a read-only replay of the current rules and a candidate set over the last `days` days."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= BACKTEST_MAX_DAYS:
        raise InvalidInput(f"Choose between 1 and {BACKTEST_MAX_DAYS} days.", fields={"days": [f"1 to {BACKTEST_MAX_DAYS}."]})
    specs = candidate_rules_parse(candidate_rules)
    # Unsaved candidate rules have no id; give them stand-in ids so time rules can fire in the replay.
    stored = [{**s.to_dict(), "id": s.id if s.id is not None else -(i + 1)} for i, s in enumerate(specs)]
    run = BacktestRun.objects.create(days=days, candidate_rules=to_json(stored), created_by=actor_user(actor))
    from recovery.escalation.tasks import backtest_run_task

    enqueue_on_commit(backtest_run_task, run.pk)
    return run


def backtest_run(*, run_id: int, now: datetime | None = None) -> BacktestRun | None:
    """Compute a queued backtest, writing progress as it goes. Reads complaints, never writes them.
    Returns None when the run was already claimed (a second delivery of the task)."""
    claimed = _move(run_id, BacktestRun.Status.QUEUED, BacktestRun.Status.RUNNING, progress=0, started_at=timezone.now())
    if not claimed:
        return None
    run = BacktestRun.objects.get(pk=run_id)
    try:
        result = _backtest(run, now or timezone.now())
    except Exception as exc:  # noqa: BLE001 - a failed run must say so on its page, not stay "running"
        logger.exception("Backtest %s failed", run_id)
        _move(run_id, BacktestRun.Status.RUNNING, BacktestRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
    else:
        _move(run_id, BacktestRun.Status.RUNNING, BacktestRun.Status.DONE, progress=100, result=result,
              finished_at=timezone.now())
    return BacktestRun.objects.get(pk=run_id)


def _move(run_id: int, from_status: str, to_status: str, **changes: Any) -> int:
    """A run's status move, through its transition table: 1 when this call moved it, else 0."""
    rows = BacktestRun.objects.filter(pk=run_id)
    return transition(rows, table=BACKTEST_TRANSITIONS, from_status=from_status, to_status=to_status, **changes)


BACKTEST_STALLED_MESSAGE = "The worker stopped while running this backtest. Run it again."


def backtests_recover(*, now: datetime | None = None, limit: int = 20) -> dict[str, int]:
    """Called by the SLA sweep: send again the backtests whose task never arrived, and fail the ones whose worker
    died. Safe to repeat and to run while workers work: a run is claimed (queued → running) only once."""
    now = now or timezone.now()
    from recovery.escalation.tasks import backtest_run_task

    resent = 0
    for run_id in sel.backtests_lost_ids(now=now, limit=limit):
        try:
            backtest_run_task.apply_async(args=(run_id,))
        except Exception:  # noqa: BLE001 - the broker is still down; the next sweep tries again
            logger.exception("Could not queue backtest %s again", run_id)
            break
        resent += 1
    stalled = transition(
        BacktestRun.objects.filter(started_at__lt=now - sel.BACKTEST_STALLED), table=BACKTEST_TRANSITIONS,
        from_status=BacktestRun.Status.RUNNING, to_status=BacktestRun.Status.FAILED,
        error=BACKTEST_STALLED_MESSAGE, finished_at=now,
    )
    return {"resent": resent, "stalled": stalled}


def backtest_again(*, run: BacktestRun, actor: ActorRef) -> BacktestRun:
    """A new run of a finished or failed backtest: the same days and candidate rules, replayed as of now."""
    return backtest_start(days=run.days, candidate_rules=run.candidate_rules, actor=actor)


def _backtest(run: BacktestRun, now: datetime) -> dict[str, Any]:
    config = sel.grading_config()
    current = sel.rule_specs()
    candidate = [validate_rule(raw) for raw in run.candidate_rules]
    start = now - timedelta(days=run.days)
    complaints = Complaint.objects.filter(created_at__gte=start, created_at__lte=now).select_related("customer")
    total = complaints.count()
    history = _complaint_times(complaints, since=start - sel.REPEAT_WINDOW)

    # Every tier, frontline too: what stays at the front line is the share the rules leave alone.
    empty = {t: 0 for t in TIERS}
    # Keyed by (id, name): a candidate rule typed into the backtest form has no id yet.
    escalating = {(rule.id, rule.name): rule.name for rule in candidate if rule.active and _escalates(rule)}
    by_rule = dict.fromkeys(escalating, 0)
    days: dict[str, dict[str, dict[str, int]]] = {}
    totals = {"current": dict(empty), "candidate": dict(empty)}
    changed: list[dict[str, Any]] = []
    changed_count = 0
    for done, complaint in enumerate(complaints.order_by("created_at", "id").iterator(chunk_size=BACKTEST_CHUNK), start=1):
        repeat = _repeats_before(history[complaint.customer_id], complaint.created_at)
        replays = {label: _replay(complaint, rules, config, repeat, now) for label, rules in
                   (("current", current), ("candidate", candidate))}
        outcome = {label: tier for label, (tier, _) in replays.items()}
        for rule_id in replays["candidate"][1] & escalating.keys():
            by_rule[rule_id] += 1
        day = timezone.localdate(complaint.created_at).isoformat()
        row = days.setdefault(day, {"current": dict(empty), "candidate": dict(empty)})
        for label, tier in outcome.items():
            row[label][tier] += 1
            totals[label][tier] += 1
        if outcome["current"] != outcome["candidate"]:
            changed_count += 1
            if len(changed) < 50:
                changed.append({"reference": complaint.reference, "subject": complaint.subject, **outcome})
        if done % BACKTEST_CHUNK == 0:
            BacktestRun.objects.filter(pk=run.pk).update(progress=min(99, done * 100 // max(total, 1)))
    return {
        "from": timezone.localdate(start).isoformat(),
        "to": timezone.localdate(now).isoformat(),
        "complaints": total,
        "tiers": list(TIERS),
        "candidate_by_rule": [{"id": key[0], "name": name, "complaints": by_rule[key]}
                              for key, name in escalating.items()],
        "days": [{"date": d, **days[d]} for d in sorted(days)],
        "totals": totals,
        "changed_count": changed_count,
        "changed": changed,
        "current_rules": [r.name for r in current],
        "candidate_rules": [r.name for r in candidate if r.active],
    }


def _complaint_times(complaints: QuerySet[Complaint], *, since: datetime) -> dict[int, list[datetime]]:
    """When each of these complaints' customers logged a complaint since then, in order: one query, so a
    complaint's repeats in the window before it are two bisections, not a query each."""
    history: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, created in (
        Complaint.objects.filter(customer_id__in=complaints.values("customer_id"), created_at__gte=since)
        .order_by("created_at")
        .values_list("customer_id", "created_at")
    ):
        history[customer_id].append(created)
    return history


def _repeats_before(times: list[datetime], created: datetime) -> int:
    """How many of the customer's complaints (`times`, in order) came in the repeat window before this one."""
    return bisect_left(times, created) - bisect_left(times, created - sel.REPEAT_WINDOW)


def _escalates(rule: RuleSpec) -> bool:
    return any(action.type in ("escalate", "escalate_one_tier") for action in rule.actions)


def _replay(
    complaint: Complaint, rules: Sequence[RuleSpec], config: GradingConfig, repeat: int, now: datetime
) -> tuple[str, set[tuple[int | None, str]]]:
    """The tier the rules would have taken this complaint to, and the ids of the rules that matched: when it was
    logged, and just before its first response (or now if it never got one), with the deadlines the first
    evaluation set. Pure."""
    tags = frozenset(complaint.tags or [])

    def facts_at(hours: float, tier: str, extra_tags: Iterable[str], response_h: float | None, resolution_h: float | None) -> ComplaintFacts:
        signals = grade_signals(complaint, hours=hours, repeat_count=repeat)
        grade = grade_experience(signals, config)
        facts = complaint_facts(complaint, grade=grade.grade, score=grade.score, hours=hours, repeat_count=repeat, now=now)
        return replace(
            facts,
            status=Status.NEW,  # before its first response a complaint is new
            tier=tier,
            tags=tags | frozenset(extra_tags),
            response_overdue=response_h is not None and hours > response_h,
            resolution_overdue=resolution_h is not None and hours > resolution_h,
        )

    first_run = evaluate(rules, facts_at(0.0, Tier.FRONTLINE, (), None, None))
    first = first_run.decision
    matched = {(t.rule_id, t.name) for t in first_run.matched}
    hours = hours_unanswered(complaint, None, now)
    if hours <= 0:
        return first.target_tier, matched
    later_run = evaluate(
        rules,
        facts_at(hours, first.target_tier, first.tags, first.response_deadline_hours, first.resolution_deadline_hours),
        first.fired_time_rules,
    )
    matched |= {(t.rule_id, t.name) for t in later_run.matched}
    later = later_run.decision
    return TIERS[max(TIERS.index(first.target_tier), TIERS.index(later.target_tier))], matched
