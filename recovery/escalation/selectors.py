"""Reads for grading and escalation: the effective config and rules, the rows a complaint's grading needs, the
escalation inbox, the sets of complaints the SLA sweep must look at, and backtests.

What a complaint looks like to grading and rules, built from these rows, is the pure facts.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet

from recovery.escalation.facts import CLOCK_RUNNING_STATUSES, time_horizon_hours
from recovery.escalation.grading import DEFAULT_CONFIG, GradingConfig, GradingConfigError
from recovery.escalation.rules import RuleSpec, RuleValidationError, validate_rule
from recovery.models import Assessment, BacktestRun, Escalation, EscalationRule, GradingSettings
from recovery.vocabulary import TIERS
from tickets.models import OPEN_STATUSES, Complaint, TimelineEvent

logger = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(days=90)

# Sweep bounds: a run never selects more than this many complaints per kind of work.
SWEEP_DUE_LIMIT = 10_000
SWEEP_REGRADE_LIMIT = 1_000
SWEEP_NEVER_ASSESSED_LIMIT = 1_000
REGRADE_AFTER = timedelta(hours=1)
NEVER_ASSESSED_GRACE = timedelta(minutes=1)


# --- configuration -----------------------------------------------------------------------------


def grading_settings_row() -> GradingSettings | None:
    return GradingSettings.objects.select_related("updated_by").order_by("pk").first()


def grading_config() -> GradingConfig:
    """The administrator's grading settings, or the defaults when none are stored.

    Stored settings are validated on save; if a later code change made them invalid the defaults
    are used and the problem is logged, so grading never stops.
    """
    row = grading_settings_row()
    if row is None or not row.config:
        return DEFAULT_CONFIG
    try:
        return GradingConfig.from_dict(row.config)
    except GradingConfigError as exc:
        logger.error("Stored grading settings are invalid, using the defaults: %s", exc)
        return DEFAULT_CONFIG


def rule_as_dict(rule: EscalationRule) -> dict[str, Any]:
    """The rule in the shape validate_rule reads (and the API shows)."""
    return {
        "id": rule.pk,
        "name": rule.name,
        "order": rule.order,
        "active": rule.active,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "stop_processing": rule.stop_processing,
        "time_based": rule.time_based,
    }


def rule_list() -> QuerySet[EscalationRule]:
    return EscalationRule.objects.select_related("updated_by").order_by("order", "id")


@dataclass(frozen=True)
class RuleSet:
    specs: tuple[RuleSpec, ...]  # validated, in evaluation order
    digest: str  # SHA-256 of the rules as stored: part of every assessment's fingerprint


# Validated specs by the rule's stored content: a worker validates each version of a rule once, not on every
# assessment (50 rules take ~10 ms to validate). Bounded; cleared when it grows past the limit.
_SPEC_CACHE: dict[str, RuleSpec | None] = {}
_SPEC_CACHE_LIMIT = 5_000


def _spec_for(row: EscalationRule) -> tuple[str, RuleSpec | None]:
    raw = rule_as_dict(row)
    key = json.dumps(raw, sort_keys=True, default=str)
    if key not in _SPEC_CACHE:
        if len(_SPEC_CACHE) >= _SPEC_CACHE_LIMIT:
            _SPEC_CACHE.clear()
        try:
            _SPEC_CACHE[key] = validate_rule(raw)
        except RuleValidationError as exc:
            logger.error("Escalation rule %s (%s) is invalid and was skipped: %s", row.pk, row.name, exc)
            _SPEC_CACHE[key] = None
    return key, _SPEC_CACHE[key]


_RULE_SET_CACHE: dict[tuple[Any, ...], RuleSet] = {}


def rule_set(*, active_only: bool = True) -> RuleSet:
    """The rules in evaluation order, validated, with a digest of their content.

    One small aggregate query while the rules are unchanged (every write to a rule goes through the services,
    which stamp `updated_at`); the rows are loaded and validated again only when it changes. A stored rule
    that no longer validates (a code change made it invalid) is skipped and logged.
    """
    state = EscalationRule.objects.aggregate(n=Count("id"), latest=Max("updated_at"), top=Max("id"))
    key = (connection.alias, connection.settings_dict["NAME"], active_only, state["n"], state["latest"], state["top"])
    cached = _RULE_SET_CACHE.get(key)
    if cached is not None:
        return cached
    if len(_RULE_SET_CACHE) > 16:
        _RULE_SET_CACHE.clear()
    _RULE_SET_CACHE[key] = _rule_set_load(active_only)
    return _RULE_SET_CACHE[key]


def _rule_set_load(active_only: bool) -> RuleSet:
    rows = EscalationRule.objects.order_by("order", "id")
    if active_only:
        rows = rows.filter(active=True)
    keys, specs = [], []
    for row in rows:
        key, spec = _spec_for(row)
        if spec is not None:
            keys.append(key)
            specs.append(spec)
    return RuleSet(tuple(specs), hashlib.sha256("\n".join(keys).encode()).hexdigest())


def rule_specs(*, active_only: bool = True) -> list[RuleSpec]:
    """Validated rules in evaluation order (see rule_set)."""
    return list(rule_set(active_only=active_only).specs)


# --- the rows a complaint's grading reads ----------------------------------------------------------

def repeat_complaint_count(complaint: Complaint) -> int:
    """Earlier complaints by the same customer within 90 days before this one."""
    return (
        Complaint.objects.filter(
            customer_id=complaint.customer_id,
            created_at__lt=complaint.created_at,
            created_at__gte=complaint.created_at - REPEAT_WINDOW,
        )
        .exclude(pk=complaint.pk)
        .count()
    )

# The customer's latest comments that grading reads; older ones rarely change the picture.
CUSTOMER_COMMENT_LIMIT = 50


def customer_comment_texts(complaint: Complaint) -> list[str]:
    """What the customer wrote after the complaint was logged, newest first.

    Intake records a customer's message (a helpdesk comment, an imported thread) as a `commented` timeline
    event with data {"by_customer": true, "body": "..."}; agents' notes and replies are not the customer's words.
    """
    rows = (
        TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.COMMENTED, data__by_customer=True)
        .order_by("-created_at", "-id")
        .values_list("data", flat=True)[:CUSTOMER_COMMENT_LIMIT]
    )
    return [str(data.get("body") or "") for data in rows if isinstance(data, dict)]

def open_escalation_ack_due(complaint: Complaint) -> datetime | None:
    """When the complaint's open (unacknowledged) escalation must be acknowledged by, if it has one."""
    return (
        Escalation.objects.filter(complaint=complaint, status=Escalation.Status.OPEN)
        .values_list("ack_due_at", flat=True)
        .first()
    )

# --- assessments -------------------------------------------------------------------------------


def assessment_latest(*, complaint: Complaint) -> Assessment | None:
    return Assessment.objects.filter(complaint=complaint).order_by("-created_at", "-id").first()


# --- escalations -------------------------------------------------------------------------------


def tiers_at_or_below(tier: str) -> list[str]:
    return list(TIERS[: TIERS.index(tier) + 1])


def escalation_list() -> QuerySet[Escalation]:
    return Escalation.objects.select_related(
        "complaint", "complaint__customer", "complaint__assignee", "acknowledged_by", "rule"
    ).order_by("-created_at", "-id")


@dataclass(frozen=True)
class InboxView:
    """Which escalations a person looks at: `waiting` (open) or `handled`, at their tier or below too."""

    tier: str
    show: str = "waiting"  # waiting | handled
    below: bool = False


HANDLED_STATUSES = (Escalation.Status.ACKNOWLEDGED, Escalation.Status.TAKEN_OVER, Escalation.Status.DEESCALATED)


def escalation_inbox(view: InboxView, *, now: datetime) -> QuerySet[Escalation]:
    """The inbox: waiting escalations of open complaints, soonest due first; or those handled in 30 days."""
    tiers = tiers_at_or_below(view.tier) if view.below else [view.tier]
    tiers = [t for t in tiers if t != "frontline"]
    qs = escalation_list().filter(tier__in=tiers)
    if view.show == "handled":
        return qs.filter(status__in=HANDLED_STATUSES, acknowledged_at__gte=now - timedelta(days=30)).order_by(
            "-acknowledged_at", "-id"
        )
    return qs.filter(status=Escalation.Status.OPEN, complaint__status__in=OPEN_STATUSES).order_by(
        F("ack_due_at").asc(nulls_last=True), "created_at", "id"
    )


def escalation_waiting_count(*, tier: str) -> int:
    return Escalation.objects.filter(
        tier=tier, status=Escalation.Status.OPEN, complaint__status__in=OPEN_STATUSES
    ).count()


def escalation_get(*, escalation_id: int) -> Escalation | None:
    return escalation_list().filter(pk=escalation_id).first()


def escalation_latest_for(*, complaint: Complaint) -> Escalation | None:
    return escalation_list().filter(complaint=complaint).first()


# --- the SLA sweep -----------------------------------------------------------------------------


def sla_due_ids(*, now: datetime, limit: int = SWEEP_DUE_LIMIT) -> list[int]:
    """Open, running complaints past a deadline (response, resolution, or their escalation's acknowledgement)
    that no assessment has seen since it passed.

    Two set-based queries. `assessed_at < deadline` means the last stored assessment happened before the
    deadline passed, so it has not yet acted on the miss; once it has, the complaint drops out here.
    """
    unseen_response = Q(assessed_at__isnull=True) | Q(assessed_at__lt=F("response_due_at"))
    unseen_resolution = Q(assessed_at__isnull=True) | Q(assessed_at__lt=F("resolution_due_at"))
    due = (Q(response_due_at__lte=now, first_response_at__isnull=True) & unseen_response) | (
        Q(resolution_due_at__lte=now) & unseen_resolution
    )
    ids = list(
        Complaint.objects.filter(due, status__in=CLOCK_RUNNING_STATUSES)
        .order_by()
        .values_list("pk", flat=True)[:limit]
    )
    # Escalations nobody acknowledged in time, on complaints not assessed since (the partial index on open
    # escalations' ack_due_at finds them).
    unacknowledged = (
        Escalation.objects.filter(status=Escalation.Status.OPEN, ack_due_at__lte=now)
        .filter(complaint__status__in=CLOCK_RUNNING_STATUSES)
        .filter(Q(complaint__assessed_at__isnull=True) | Q(complaint__assessed_at__lt=F("ack_due_at")))
        .order_by()
        .values_list("complaint_id", flat=True)[: max(0, limit - len(ids))]
    )
    seen = set(ids)
    return ids + [pk for pk in unacknowledged if pk not in seen]


def regrade_ids(*, now: datetime, horizon_hours: float, limit: int = SWEEP_REGRADE_LIMIT) -> list[int]:
    """Unanswered running complaints whose grade may have drifted with time, least recently assessed first.

    Only those last assessed before the horizon: an assessment made past it already saw everything time
    alone can change. (A paused clock only ever follows the first response, so pauses need no care here.)
    """
    return list(
        Complaint.objects.filter(
            status__in=CLOCK_RUNNING_STATUSES,
            first_response_at__isnull=True,
            assessed_at__lt=now - REGRADE_AFTER,
        )
        .filter(assessed_at__lt=F("created_at") + timedelta(hours=math.ceil(horizon_hours)))
        .order_by("assessed_at")
        .values_list("pk", flat=True)[:limit]
    )


def never_assessed_ids(*, now: datetime, limit: int = SWEEP_NEVER_ASSESSED_LIMIT) -> list[int]:
    """Complaints whose assessment task never ran (for example the broker was down when they were logged)."""
    return list(
        Complaint.objects.filter(assessed_at__isnull=True, created_at__lt=now - NEVER_ASSESSED_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def escalations_needing_reminder(*, now: datetime, limit: int = 1_000) -> QuerySet[Escalation]:
    """Waiting escalations of open complaints due within a day or missed within the last day; the service
    picks which deserve a reminder (last quarter of the window, or missed). Older misses were reminded of."""
    return (
        Escalation.objects.filter(
            status=Escalation.Status.OPEN,
            complaint__status__in=OPEN_STATUSES,
            ack_due_at__gte=now - timedelta(days=1),
            ack_due_at__lte=now + timedelta(days=1),
        )
        .select_related("complaint")
        .order_by("ack_due_at")[:limit]
    )


# --- backtests ---------------------------------------------------------------------------------


def backtest_list() -> QuerySet[BacktestRun]:
    return BacktestRun.objects.select_related("created_by").order_by("-created_at", "-id")


def backtest_get(*, run_id: int) -> BacktestRun | None:
    return backtest_list().filter(pk=run_id).first()


# A queued backtest no worker picked up within this long is sent again by the sweep (its task was lost to a
# broker outage); one still running after BACKTEST_STALLED is taken for a worker that died mid-run.
BACKTEST_RESEND_AFTER = timedelta(minutes=2)
BACKTEST_STALLED = timedelta(hours=1)


def backtest_waiting_for_worker(run: BacktestRun, *, now: datetime) -> bool:
    """Queued for longer than a worker takes to pick a task up: its task is probably lost (the sweep resends it)."""
    return run.status == BacktestRun.Status.QUEUED and now - run.created_at > BACKTEST_RESEND_AFTER


def backtests_lost_ids(*, now: datetime, limit: int) -> list[int]:
    """Queued backtests whose task seems lost, oldest first."""
    return list(
        BacktestRun.objects.filter(status=BacktestRun.Status.QUEUED, created_at__lt=now - BACKTEST_RESEND_AFTER)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass(frozen=True)
class SweepWork:
    due: list[int]  # past a deadline, not yet acted on
    regrade: list[int]  # unanswered, grade may have drifted with time
    never_assessed: list[int]  # their task never ran

    @property
    def ids(self) -> list[int]:
        """Every id once, deadlines first."""
        return list(dict.fromkeys([*self.due, *self.regrade, *self.never_assessed]))


def sla_sweep_work(*, now: datetime) -> SweepWork:
    """What one SLA sweep must look at: three set-based, capped selections of ids."""
    horizon = time_horizon_hours(grading_config(), rule_specs())
    return SweepWork(
        due=sla_due_ids(now=now),
        regrade=regrade_ids(now=now, horizon_hours=horizon),
        never_assessed=never_assessed_ids(now=now),
    )


def open_complaint_ids() -> list[int]:
    return list(Complaint.objects.filter(status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True))


def rule_summary(rule: EscalationRule) -> str:
    """The rule in one sentence, e.g. "When grade = ugly: escalate to executive, notify the executive"."""
    try:
        spec = validate_rule(rule_as_dict(rule))
    except RuleValidationError as exc:
        return f"Invalid rule, skipped: {exc}"
    joiner = " and " if spec.match == "all" else " or "
    when = joiner.join(c.describe() for c in spec.conditions)
    then = ", ".join(a.describe() for a in spec.actions)
    extra = " (once per complaint)" if spec.time_based else ""
    stop = "; then stop" if spec.stop_processing else ""
    return f"When {when}: {then}{extra}{stop}"


@dataclass(frozen=True)
class EscalationShares:
    """How much of the recent intake the rules escalated: per rule, and to the executive tier."""

    days: int
    complaints: int
    by_rule: dict[int, int]  # rule id -> complaints it escalated
    executive: int  # complaints it took to an executive

    def share(self, count: int) -> float | None:
        return count / self.complaints if self.complaints else None


def escalation_shares(*, now: datetime, days: int = 30) -> EscalationShares:
    """Complaints logged in the last `days` and, of them, how many each rule escalated and how many reached an
    executive. Three aggregate queries, whatever the volume."""
    since = now - timedelta(days=days)
    recent = Escalation.objects.filter(complaint__created_at__gte=since)
    by_rule = dict(
        recent.filter(rule__isnull=False).values_list("rule_id").annotate(n=Count("complaint_id", distinct=True))
    )
    return EscalationShares(
        days=days,
        complaints=Complaint.objects.filter(created_at__gte=since).count(),
        by_rule=by_rule,
        executive=recent.filter(tier="executive").values("complaint_id").distinct().count(),
    )
