"""Writes of grading and escalation: assess a complaint, act on the rules, and the people's answers to it
(acknowledge, take over, de-escalate); rules, grading settings and backtests.

What callers may rely on:
- `complaint_assess` is the one way a complaint is graded and escalated. It locks the complaint row, is
  atomic, and is idempotent: run again on an unchanged complaint it stores nothing, writes nothing and
  sends nothing (see the fingerprint below). It never sends `complaint_changed`, so it cannot trigger
  itself.
- The tier only moves up through rules; only a person moves it down (`escalation_deescalate`).
- A time-based rule fires at most once per complaint (RuleFiring's unique constraint is the claim).
- Notifications carry dedupe keys, so each person hears about one escalation once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from cxrecovery.queue import enqueue_on_commit
from notifications.models import Notification
from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.escalation import selectors as sel
from recovery.escalation.grading import GRADES, Grade, GradeSignals, GradingConfig, GradingConfigError, grade_experience
from recovery.escalation.rules import (
    CLOSED_STATUSES,
    NOTIFY_ASSIGNEE,
    ORDER_LIMIT,
    TIERS,
    ComplaintFacts,
    Decision,
    Evaluation,
    RuleSpec,
    RuleValidationError,
    evaluate,
    validate_rule,
)
from recovery.models import Assessment, BacktestRun, Escalation, EscalationRule, GradingSettings, RuleFiring, SlaClock
from tickets import services as ticket_services
from tickets.actors import ActorRef, display_name
from tickets.errors import DomainError, InvalidInput
from tickets.events import event_write
from tickets.models import Complaint, Customer, Role, Status, Tier, TimelineEvent
from tickets.permissions import PERSON_NEEDED, user_tier

logger = logging.getLogger(__name__)

RULES_ACTOR = ActorRef.system("Escalation rules")
SWEEP_ACTOR = ActorRef.system("SLA clock")
# Hours to acknowledge an escalation when no matched rule set a response deadline.
DEFAULT_ACK_HOURS: dict[str, float] = {Tier.LEAD: 24.0, Tier.MANAGER: 8.0, Tier.EXECUTIVE: 4.0}
TIER_ROLE: dict[str, str] = {Tier.FRONTLINE: Role.AGENT, Tier.LEAD: Role.LEAD, Tier.MANAGER: Role.MANAGER,
                             Tier.EXECUTIVE: Role.EXECUTIVE}
RESPONSE_NEAR = timedelta(hours=1)


class EscalationNotYours(DomainError):
    code = "permission_denied"
    status = 403


class EscalationConflict(DomainError):
    code = "conflict"
    status = 409


class _Raced(Exception):
    """Another run claimed a time rule for this complaint first; this run rolls back and changes nothing."""


# --- small helpers -----------------------------------------------------------------------------


def tier_label(tier: str) -> str:
    return Tier(tier).label if tier in Tier.values else tier


def _tier_word(tier: str) -> str:
    return tier_label(tier).lower()


def when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z") if moment else ""


def duration(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or not (days or hours))
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _hours_text(hours: float) -> str:
    shown = f"{hours:g}"
    return f"{shown} hour" + ("" if hours == 1 else "s")


def to_json(value: Any) -> Any:
    """Dataclasses, Decimals, tuples and frozensets as plain JSON values (sets sorted, so output is stable)."""
    if hasattr(value, "__dataclass_fields__"):
        return to_json(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def reasons_json(grade: Grade) -> list[dict[str, Any]]:
    return [{"code": r.code, "text": r.text, "points": r.points, "forces_ugly": r.forces_ugly} for r in grade.reasons]


def tier_users(tier: str) -> list[Any]:
    """Active people whose role group is the tier's."""
    User = get_user_model()
    return list(User.objects.filter(is_active=True, groups__name=TIER_ROLE[tier]).distinct().order_by("pk"))


# --- assessment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessResult:
    """`outcome`: assessed (something stored), unchanged (nothing to do), missing (no such complaint),
    raced (another run for the same complaint got there first; it did the work)."""

    outcome: str
    assessment: Assessment | None = None
    escalation: Escalation | None = None
    changed: tuple[str, ...] = ()


@dataclass
class _Plan:
    """What applying a decision changes. Deadlines are new values only when they tighten."""

    tier: str
    escalating_rules: list[RuleSpec] = field(default_factory=list)
    response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    deadline_rules: list[RuleSpec] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    notify: frozenset[str] = frozenset()
    fired: frozenset[int] = frozenset()
    held: str | None = None
    not_applied: str | None = None

    def has_effects(self, complaint: Complaint) -> bool:
        return bool(
            self.tier != complaint.tier
            or self.response_due_at
            or self.resolution_due_at
            or self.tags
            or self.fired
        )


def complaint_assess(*, complaint_id: int, trigger: str, now: datetime | None = None) -> AssessResult:
    """Grade the complaint, run the active rules and apply what they decide. Safe to call any number of times.

    Stores an Assessment (and changes the complaint) only when the fingerprint of its inputs differs from
    the last assessment's, or the decision still has something to apply.
    """
    try:
        return _assess(complaint_id, trigger, now or timezone.now())
    except _Raced:
        return AssessResult("raced")


@transaction.atomic
def _assess(complaint_id: int, trigger: str, now: datetime) -> AssessResult:
    complaint = (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("customer", "assignee")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        return AssessResult("missing")
    updates: dict[str, Any] = {}
    clock, clock_changed = _clock_reconcile(complaint, now, updates)

    config = sel.grading_config()
    ruleset = sel.rule_set()
    rules = ruleset.specs
    fired_before = frozenset(RuleFiring.objects.filter(complaint=complaint).values_list("rule_id", flat=True))
    repeat = sel.repeat_complaint_count(complaint)
    hours = sel.hours_unanswered(complaint, clock, now)
    comments = sel.customer_comment_texts(complaint)
    signals = sel.grade_signals(complaint, hours=hours, repeat_count=repeat, comments=comments)
    grade = grade_experience(signals, config)
    facts = sel.complaint_facts(
        complaint,
        grade=grade.grade,
        score=grade.score,
        hours=hours,
        repeat_count=repeat,
        now=now,
        ack_due_at=sel.open_escalation_ack_due(complaint),
    )
    evaluation = evaluate(rules, facts, fired_before)
    plan = _plan(complaint, evaluation, rules, clock, grade, now)

    # Fingerprint the state the complaint will be in once this plan is applied, so a re-run on the
    # unchanged complaint computes the same fingerprint and stops here.
    after = replace(
        facts,
        tier=plan.tier,
        tags=facts.tags | frozenset(plan.tags),
        response_overdue=facts.response_overdue and plan.response_due_at is None,
        resolution_overdue=facts.resolution_overdue and plan.resolution_due_at is None,
        # Escalating again supersedes the unacknowledged escalation with a new one and a new deadline.
        acknowledgement_overdue=facts.acknowledgement_overdue and plan.tier == complaint.tier,
    )
    fired_after = fired_before | plan.fired
    horizon = sel.time_horizon_hours(config, rules)
    fingerprint = _fingerprint(signals, grade, after, evaluate(rules, after, fired_after), ruleset.digest, config, horizon)
    last = Assessment.objects.filter(complaint=complaint).order_by("-created_at", "-id").values_list("fingerprint", flat=True).first()
    if last == fingerprint and not plan.has_effects(complaint):
        if clock_changed:
            _complaint_write(complaint, updates, now)
            return AssessResult("assessed", changed=tuple(updates))
        return AssessResult("unchanged")

    for rule_id in sorted(plan.fired):
        try:
            with transaction.atomic():
                RuleFiring.objects.create(complaint=complaint, rule_id=rule_id)
        except IntegrityError:
            raise _Raced from None

    graded_from = complaint.grade
    escalation = _apply(complaint, plan, evaluation, grade, updates, now)
    assessment = Assessment.objects.create(
        complaint=complaint,
        trigger=trigger[:30],
        grade=grade.grade,
        score=grade.score,
        reasons=reasons_json(grade),
        facts=to_json(facts),
        traces=to_json(evaluation.traces),
        decision={**to_json(evaluation.decision), "applied": _applied(complaint, plan, escalation, updates)},
        fingerprint=fingerprint,
    )
    _notify(complaint, plan, grade, escalation, evaluation)
    _complaint_write(complaint, updates, now)
    if graded_from != grade.grade:
        webhook_payloads.publish(
            "complaint.graded",
            complaint,
            grade={"from": graded_from or None, "to": grade.grade, "score": grade.score, "reasons": reasons_json(grade)},
        )
    if escalation is not None:
        webhook_payloads.publish("complaint.escalated", complaint, escalation=webhook_payloads.escalation_data(escalation))
    return AssessResult("assessed", assessment, escalation, tuple(updates))


def _fingerprint(
    signals: GradeSignals,
    grade: Grade,
    facts: ComplaintFacts,
    evaluation: Evaluation,
    rules_digest: str,
    config: GradingConfig,
    horizon: float,
) -> str:
    # Whole hours, capped where time stops mattering: a minute more does not make a new assessment,
    # and the score and the decision below still catch a rule threshold crossed mid-hour.
    hours = min(math.floor(signals.hours_unanswered), math.ceil(horizon))
    payload = {
        "signals": {**to_json(signals), "hours_unanswered": hours},
        "grade": [grade.grade, grade.score, [[r.code, r.points, r.forces_ugly] for r in grade.reasons]],
        "facts": {**to_json(facts), "hours_unanswered": hours},
        "matched": [t.rule_id for t in evaluation.matched],
        "decision": to_json(evaluation.decision),
        "rules": rules_digest,
        "config": config.to_dict(),
    }
    raw = json.dumps(payload, sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(raw.encode()).hexdigest()


def _clock_reconcile(complaint: Complaint, now: datetime, updates: dict[str, Any]) -> tuple[SlaClock | None, bool]:
    """Pause the SLA clock while the complaint waits on the customer; on resuming, move its deadlines on
    by the paused time. Uses the time of the status change, so a late task still pauses at the right moment."""
    clock = SlaClock.objects.filter(complaint=complaint).first()
    waiting = complaint.status == Status.WAITING_ON_CUSTOMER
    if waiting and (clock is None or clock.paused_at is None):
        started = _status_change_at(complaint, to_status=Status.WAITING_ON_CUSTOMER) or now
        if clock is None:
            clock = SlaClock.objects.create(complaint=complaint, paused_at=started)
        else:
            clock.paused_at = started
            clock.save(update_fields=["paused_at"])
        return clock, False
    if not waiting and clock is not None and clock.paused_at is not None:
        ended = _status_change_at(complaint, from_status=Status.WAITING_ON_CUSTOMER) or now
        paused = max(timedelta(0), ended - clock.paused_at)
        clock.paused_seconds += int(paused.total_seconds())
        clock.paused_at = None
        clock.save(update_fields=["paused_seconds", "paused_at"])
        moved = {}
        for name in ("response_due_at", "resolution_due_at"):
            due = getattr(complaint, name)
            if due is not None and paused:
                moved[name] = due + paused
                setattr(complaint, name, moved[name])
                updates[name] = moved[name]
        if moved:
            parts = [f"{'response' if n == 'response_due_at' else 'resolution'} now due {when(v)}" for n, v in moved.items()]
            event_write(
                complaint=complaint,
                kind=TimelineEvent.Kind.DEADLINE_SET,
                actor=SWEEP_ACTOR,
                message=f"Deadlines moved on by {duration(paused.total_seconds())} (paused while waiting on the customer): "
                + "; ".join(parts),
                data={"reason": "resumed", "paused_seconds": int(paused.total_seconds()), **moved},
            )
        return clock, bool(moved)
    return clock, False


def _status_change_at(complaint: Complaint, *, to_status: str | None = None, from_status: str | None = None) -> datetime | None:
    events = TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.STATUS_CHANGED)
    events = events.filter(data__to=to_status) if to_status else events.filter(data__from=from_status)
    return events.order_by("-created_at", "-id").values_list("created_at", flat=True).first()


def _plan(
    complaint: Complaint,
    evaluation: Evaluation,
    rules: Sequence[RuleSpec],
    clock: SlaClock | None,
    grade: Grade,
    now: datetime,
) -> _Plan:
    decision = evaluation.decision
    plan = _Plan(tier=complaint.tier, fired=decision.fired_time_rules)
    if complaint.status in CLOSED_STATUSES:
        plan.not_applied = f"Not acted on: the complaint is {Status(complaint.status).label.lower()}. It is graded, never escalated."
        return plan
    matched = {t.rule_id for t in evaluation.matched}
    matched_rules = [r for r in rules if r.id in matched]
    notify = set(decision.notify)

    if decision.escalated:
        hold = _deescalation_hold(complaint, decision.target_tier, grade.grade, bool(decision.fired_time_rules))
        if hold:
            plan.held = hold
            notify = {n for n in notify if n not in TIERS or TIERS.index(n) <= TIERS.index(complaint.tier)}
        else:
            plan.tier = decision.target_tier
            plan.escalating_rules = [r for r in matched_rules if _escalates_to(r, complaint.tier, plan.tier)]
            notify.add(plan.tier)  # an escalation nobody hears about helps nobody

    # Deadline hours count from now; while the clock is paused, from the start of the pause, so that
    # moving deadlines on at resume gives the full time.
    base = clock.paused_at if clock is not None and clock.paused_at is not None else now
    if decision.response_deadline_hours is not None and complaint.first_response_at is None:
        due = base + timedelta(hours=decision.response_deadline_hours)
        if complaint.response_due_at is None or due < complaint.response_due_at:
            plan.response_due_at = due
    if decision.resolution_deadline_hours is not None:
        due = base + timedelta(hours=decision.resolution_deadline_hours)
        if complaint.resolution_due_at is None or due < complaint.resolution_due_at:
            plan.resolution_due_at = due
    if plan.response_due_at or plan.resolution_due_at:
        wanted = {"set_response_deadline"} if plan.response_due_at else set()
        if plan.resolution_due_at:
            wanted.add("set_resolution_deadline")
        plan.deadline_rules = [r for r in matched_rules if any(a.type in wanted for a in r.actions)]
    plan.tags = decision.tags
    plan.notify = frozenset(notify)
    return plan


def _escalates_to(rule: RuleSpec, current: str, target: str) -> bool:
    for action in rule.actions:
        if action.type == "escalate" and action.value == target:
            return True
        if action.type == "escalate_one_tier" and TIERS.index(current) + 1 == TIERS.index(target):
            return True
    return False


def _deescalation_hold(complaint: Complaint, target: str, grade: str, deadline_missed: bool) -> str | None:
    """A person took this complaint down a tier: rules do not push it back up to that tier unless the
    grade gets worse than it was then or a deadline is missed."""
    if deadline_missed:
        return None
    event = (
        TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.DEESCALATED)
        .order_by("-created_at", "-id")
        .first()
    )
    if event is None:
        return None
    taken_from = event.data.get("from_tier", Tier.EXECUTIVE)
    grade_then = event.data.get("grade") or "good"
    if TIERS.index(target) > TIERS.index(taken_from) or GRADES.index(grade) > GRADES.index(grade_then):
        return None
    return (
        f"Held at {_tier_word(complaint.tier)}: {event.actor_label} de-escalated it from {_tier_word(taken_from)} on "
        f"{when(event.created_at)}. It escalates again if the grade gets worse than {grade_then} or a deadline is missed."
    )


def _apply(
    complaint: Complaint, plan: _Plan, evaluation: Evaluation, grade: Grade, updates: dict[str, Any], now: datetime
) -> Escalation | None:
    if complaint.grade != grade.grade:
        first = grade.reasons[0].text if grade.reasons else ""
        change = f"Graded {grade.grade}" if not complaint.grade else f"Grade {complaint.grade} → {grade.grade}"
        event_write(
            complaint=complaint,
            kind=TimelineEvent.Kind.ASSESSED,
            actor=RULES_ACTOR,
            message=f"{change} (score {grade.score}): {first}",
            data={"from": complaint.grade or None, "to": grade.grade, "score": grade.score,
                  "reasons": [r.code for r in grade.reasons]},
        )
    updates.update(grade=grade.grade, risk_score=grade.score, grade_reasons=reasons_json(grade), assessed_at=now)

    escalation = None
    if plan.tier != complaint.tier:
        escalation = _escalate(complaint, plan, evaluation.decision, now)
        updates["tier"] = plan.tier

    if plan.response_due_at or plan.resolution_due_at:
        parts = []
        if plan.response_due_at:
            updates["response_due_at"] = plan.response_due_at
            parts.append(f"response due {when(plan.response_due_at)} ({_hours_text(evaluation.decision.response_deadline_hours)})")
        if plan.resolution_due_at:
            updates["resolution_due_at"] = plan.resolution_due_at
            parts.append(f"resolution due {when(plan.resolution_due_at)} ({_hours_text(evaluation.decision.resolution_deadline_hours)})")
        names = ", ".join(f"“{r.name}”" for r in plan.deadline_rules)
        event_write(
            complaint=complaint,
            kind=TimelineEvent.Kind.DEADLINE_SET,
            actor=RULES_ACTOR,
            message=_sentence("; ".join(parts)) + (f", by rule {names}" if names else ""),
            data={"response_due_at": plan.response_due_at, "resolution_due_at": plan.resolution_due_at,
                  "rules": [r.id for r in plan.deadline_rules]},
        )

    if plan.tags:
        updates["tags"] = [*(complaint.tags or []), *plan.tags]
        event_write(
            complaint=complaint,
            kind=TimelineEvent.Kind.TAGGED,
            actor=RULES_ACTOR,
            message="Tagged " + ", ".join(plan.tags),
            data={"added": list(plan.tags)},
        )
    return escalation


def _escalate(complaint: Complaint, plan: _Plan, decision: Decision, now: datetime) -> Escalation:
    Escalation.objects.filter(complaint=complaint, status=Escalation.Status.OPEN).update(
        status=Escalation.Status.SUPERSEDED
    )
    hours = decision.response_deadline_hours or DEFAULT_ACK_HOURS.get(plan.tier, 24.0)
    rules = plan.escalating_rules
    reason = "; ".join(r.name for r in rules) or "Escalation rules"
    escalation = Escalation.objects.create(
        complaint=complaint,
        tier=plan.tier,
        from_tier=complaint.tier,
        reason=reason[:500],
        rule_id=rules[0].id if rules else None,
        ack_due_at=now + timedelta(hours=hours),
    )
    names = ", ".join(f"“{r.name}”" for r in rules)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.ESCALATED,
        actor=RULES_ACTOR,
        message=f"Escalated from {_tier_word(complaint.tier)} to {_tier_word(plan.tier)}"
        + (f" by rule {names}" if names else "")
        + f"; acknowledge by {when(escalation.ack_due_at)}",
        data={"escalation_id": escalation.pk, "from": complaint.tier, "to": plan.tier,
              "rules": [r.id for r in rules], "ack_due_at": escalation.ack_due_at},
    )
    return escalation


def _applied(complaint: Complaint, plan: _Plan, escalation: Escalation | None, updates: dict[str, Any]) -> dict[str, Any]:
    """What this assessment did, in data and in words, for the trace shown to people."""
    done: list[str] = []
    if escalation is not None:
        done.append(f"Escalated from {_tier_word(escalation.from_tier)} to {_tier_word(escalation.tier)}; "
                    f"acknowledge by {when(escalation.ack_due_at)}")
    if plan.response_due_at:
        done.append(f"Response due {when(plan.response_due_at)}")
    if plan.resolution_due_at:
        done.append(f"Resolution due {when(plan.resolution_due_at)}")
    if plan.tags:
        done.append("Tagged " + ", ".join(plan.tags))
    return to_json(
        {
            "escalation_id": escalation.pk if escalation else None,
            "tier": {"from": escalation.from_tier, "to": escalation.tier} if escalation else None,
            "response_due_at": plan.response_due_at,
            "resolution_due_at": plan.resolution_due_at,
            "tags": list(plan.tags),
            "notify": sorted(plan.notify),
            "time_rules_fired": sorted(plan.fired),
            "held": plan.held,
            "not_applied": plan.not_applied,
            "summary": done,
        }
    )


def _notify(complaint: Complaint, plan: _Plan, grade: Grade, escalation: Escalation | None, evaluation: Evaluation) -> None:
    if not plan.notify or plan.not_applied:
        return
    recipients: dict[int, Any] = {}
    for target in sorted(plan.notify):
        if target == NOTIFY_ASSIGNEE:
            people = [complaint.assignee] if complaint.assignee and complaint.assignee.is_active else []
        elif target == Tier.FRONTLINE and complaint.assignee is not None:
            people = [complaint.assignee]
        elif target in TIERS:
            people = tier_users(target)
        else:
            people = []
        recipients.update((p.pk, p) for p in people)
    if not recipients:
        return
    if escalation is None:
        latest = Escalation.objects.filter(complaint=complaint).order_by("-created_at", "-id").values_list("pk", flat=True).first()
    else:
        latest = escalation.pk
    # One notice per person per escalation of this complaint (0 before any escalation).
    key = f"recovery:complaint:{complaint.pk}:escalation:{latest or 0}"
    rules = [t.name for t in evaluation.matched]
    if escalation is not None:
        title = f"{complaint.reference} escalated to {_tier_word(escalation.tier)}: {grade.grade} experience"
    else:
        title = f"{complaint.reference} needs your attention: {grade.grade} experience"
    lines = [
        complaint.subject,
        f"Customer: {complaint.customer}",
        f"Grade: {grade.grade} (risk score {grade.score})",
        *(f"- {r.text}" for r in grade.reasons[:4]),
    ]
    if rules:
        lines.append("Rules: " + "; ".join(rules))
    if escalation is not None and escalation.ack_due_at:
        lines.append(f"Acknowledge by {when(escalation.ack_due_at)}.")
    for person in recipients.values():
        notice_send(
            recipient=person,
            title=title,
            body="\n".join(lines),
            url=f"/complaints/{complaint.reference}/",
            dedupe_key=key,
        )


def _complaint_write(complaint: Complaint, updates: dict[str, Any], now: datetime) -> None:
    """Write recovery's fields with one UPDATE: no save(), no signal, so this cannot re-trigger an assessment."""
    if not updates:
        return
    Complaint.objects.filter(pk=complaint.pk).update(**updates, updated_at=now)
    for name, value in updates.items():
        setattr(complaint, name, value)


# --- what people do with an escalation ---------------------------------------------------------


def _locked_escalation(escalation_id: int) -> Escalation:
    """The escalation, locked after its complaint: the same order as complaint_assess, so the two never deadlock."""
    complaint_id = Escalation.objects.filter(pk=escalation_id).values_list("complaint_id", flat=True).first()
    if complaint_id is None:
        raise EscalationNotFound(f"No escalation with id {escalation_id}.")
    complaint = Complaint.objects.select_for_update(of=("self",)).select_related("customer", "assignee").get(pk=complaint_id)
    escalation = Escalation.objects.select_for_update(of=("self",)).select_related("acknowledged_by").get(pk=escalation_id)
    escalation.complaint = complaint
    return escalation


def _reload(escalation: Escalation) -> Escalation:
    fresh = Escalation.objects.select_related("acknowledged_by").get(pk=escalation.pk)
    fresh.complaint = escalation.complaint
    return fresh


class EscalationNotFound(DomainError):
    code = "not_found"
    status = 404


def escalation_can_handle(*, actor: ActorRef, escalation: Escalation) -> bool:
    """People handle escalations at their tier or below, signed in or through a key that acts for them. A tool's
    key (bound to no person) may read escalations but never act on them: handling one is a person's word."""
    if actor.user is None:
        return False
    mine = user_tier(actor.user)
    return mine is not None and mine != Tier.FRONTLINE and TIERS.index(mine) >= TIERS.index(escalation.tier)


def _check_can_handle(actor: ActorRef, escalation: Escalation) -> None:
    if actor.user is None or not getattr(actor.user, "pk", None):
        raise EscalationNotYours(PERSON_NEEDED)
    if not escalation_can_handle(actor=actor, escalation=escalation):
        raise EscalationNotYours(
            f"This escalation is for the {_tier_word(escalation.tier)} tier or above; "
            "ask someone at that tier, or take it down a tier first."
        )


def _handled_text(escalation: Escalation) -> str:
    who = display_name(escalation.acknowledged_by) if escalation.acknowledged_by else "someone"
    return f"{escalation.get_status_display()} by {who} on {when(escalation.acknowledged_at)}"


@transaction.atomic
def escalation_acknowledge(*, escalation_id: int, actor: ActorRef, note: str = "") -> Escalation:
    """Acknowledge a waiting escalation: I have seen it and it is in hand. Exactly one of two
    simultaneous acknowledgements wins; the other gets EscalationConflict (409)."""
    escalation = _locked_escalation(escalation_id)
    _check_can_handle(actor, escalation)
    note = (note or "").strip()
    now = timezone.now()
    won = Escalation.objects.filter(pk=escalation.pk, status=Escalation.Status.OPEN).update(
        status=Escalation.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor.user, note=note
    )
    if not won:
        escalation = _reload(escalation)
        raise EscalationConflict(f"{escalation.complaint.reference} was already handled: {_handled_text(escalation)}.")
    escalation = _reload(escalation)
    late = escalation.ack_due_at is not None and now > escalation.ack_due_at
    event_write(
        complaint=escalation.complaint,
        kind=TimelineEvent.Kind.ACKNOWLEDGED,
        actor=actor,
        message=f"Acknowledged the escalation to {_tier_word(escalation.tier)}"
        + (f", {duration((now - escalation.ack_due_at).total_seconds())} late" if late else "")
        + (f": {note}" if note else ""),
        data={"escalation_id": escalation.pk, "tier": escalation.tier, "action": "acknowledged", "note": note, "late": late},
    )
    webhook_payloads.publish(
        "escalation.acknowledged", escalation.complaint,
        escalation=webhook_payloads.escalation_data(escalation), action="acknowledged", note=note, late=late,
    )
    return escalation


@transaction.atomic
def escalation_take_over(*, escalation_id: int, actor: ActorRef, note: str = "") -> Escalation:
    """Acknowledge (if still waiting) and assign the complaint to me."""
    escalation = _locked_escalation(escalation_id)
    _check_can_handle(actor, escalation)
    if escalation.status not in (Escalation.Status.OPEN, Escalation.Status.ACKNOWLEDGED):
        raise EscalationConflict(f"{escalation.complaint.reference} cannot be taken over: {_handled_text(escalation)}.")
    now = timezone.now()
    note = (note or "").strip()
    fields: dict[str, Any] = {"status": Escalation.Status.TAKEN_OVER}
    if escalation.status == Escalation.Status.OPEN:
        fields.update(acknowledged_at=now, acknowledged_by=actor.user)
    if note:
        fields["note"] = note
    Escalation.objects.filter(pk=escalation.pk).update(**fields)
    escalation = _reload(escalation)
    event_write(
        complaint=escalation.complaint,
        kind=TimelineEvent.Kind.ACKNOWLEDGED,
        actor=actor,
        message=f"Took over the escalation to {_tier_word(escalation.tier)}" + (f": {note}" if note else ""),
        data={"escalation_id": escalation.pk, "tier": escalation.tier, "action": "taken_over", "note": note},
    )
    webhook_payloads.publish(
        "escalation.acknowledged", escalation.complaint,
        escalation=webhook_payloads.escalation_data(escalation), action="taken_over", note=note, late=False,
    )
    ticket_services.complaint_assign(complaint=escalation.complaint, assignee=actor.user, actor=actor)
    return escalation


@transaction.atomic
def escalation_deescalate(*, escalation_id: int, actor: ActorRef, note: str) -> Escalation:
    """Take the complaint back to the tier it came from, with a note saying why. Rules will not push it
    back up to that tier unless the grade gets worse or a deadline is missed."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Say why it does not need this tier.", fields={"note": ["Write a short note for the timeline."]})
    escalation = _locked_escalation(escalation_id)
    complaint = escalation.complaint
    _check_can_handle(actor, escalation)
    if escalation.status in (Escalation.Status.DEESCALATED, Escalation.Status.SUPERSEDED) or complaint.tier != escalation.tier:
        raise EscalationConflict(
            f"{complaint.reference} is now at the {_tier_word(complaint.tier)} tier; this escalation "
            f"({escalation.get_status_display().lower()}) can no longer be taken down."
        )
    now = timezone.now()
    fields: dict[str, Any] = {"status": Escalation.Status.DEESCALATED, "note": note}
    if escalation.acknowledged_at is None:
        fields.update(acknowledged_at=now, acknowledged_by=actor.user)
    Escalation.objects.filter(pk=escalation.pk).update(**fields)
    Complaint.objects.filter(pk=complaint.pk).update(tier=escalation.from_tier, updated_at=now)
    escalation = _reload(escalation)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.DEESCALATED,
        actor=actor,
        message=f"De-escalated from {_tier_word(escalation.tier)} to {_tier_word(escalation.from_tier)}: {note}",
        data={"escalation_id": escalation.pk, "from_tier": escalation.tier, "to_tier": escalation.from_tier,
              "grade": complaint.grade, "score": complaint.risk_score, "note": note},
    )
    return escalation


# --- reminders (called by the sweep) -----------------------------------------------------------


def escalation_reminders_send(*, now: datetime | None = None) -> int:
    """Remind the tier when an acknowledgement is due soon (last quarter of its window) or was missed, and
    the assignee when a response is due within the hour. Each reminder goes once (dedupe keys)."""
    now = now or timezone.now()
    wanted: list[tuple[Any, str, str, str, str]] = []  # recipient, key, title, body, url
    people: dict[str, list[Any]] = {}
    for escalation in sel.escalations_needing_reminder(now=now):
        window = escalation.ack_due_at - escalation.created_at
        left = escalation.ack_due_at - now
        if left <= timedelta(0):
            kind, title = "missed", f"{escalation.complaint.reference}: acknowledgement overdue"
        elif left <= window / 4:
            kind, title = "near", f"{escalation.complaint.reference}: acknowledge within {duration(left.total_seconds())}"
        else:
            continue
        body = (f"{escalation.complaint.subject}\nEscalated to {_tier_word(escalation.tier)}: {escalation.reason}\n"
                f"Acknowledge by {when(escalation.ack_due_at)}.")
        if escalation.tier not in people:
            people[escalation.tier] = tier_users(escalation.tier)
        for person in people[escalation.tier]:
            wanted.append((person, f"recovery:escalation:{escalation.pk}:ack-{kind}", title, body,
                           f"/complaints/{escalation.complaint.reference}/"))
    for complaint in _responses_due_soon(now):
        wanted.append((complaint.assignee, f"recovery:complaint:{complaint.pk}:response-near:{complaint.response_due_at:%Y%m%d%H%M}",
                       f"{complaint.reference}: first response due {when(complaint.response_due_at)}",
                       f"{complaint.subject}\nReply to the customer before {when(complaint.response_due_at)}.",
                       f"/complaints/{complaint.reference}/"))
    if not wanted:
        return 0
    # Skip what was already sent in one query, instead of failing an insert per person every minute.
    sent = set(Notification.objects.filter(dedupe_key__in={w[1] for w in wanted}).values_list("recipient_id", "dedupe_key"))
    count = 0
    for recipient, key, title, body, url in wanted:
        if (recipient.pk, key) in sent:
            continue
        if notice_send(recipient=recipient, title=title, body=body, url=url, dedupe_key=key) is not None:
            count += 1
    return count


def _responses_due_soon(now: datetime) -> Iterable[Complaint]:
    return (
        Complaint.objects.filter(
            status__in=sel.CLOCK_RUNNING_STATUSES,
            first_response_at__isnull=True,
            assignee__isnull=False,
            assignee__is_active=True,
            response_due_at__gt=now,
            response_due_at__lte=now + RESPONSE_NEAR,
        )
        .select_related("assignee")
        .order_by("response_due_at")[:1000]
    )


# --- rules -------------------------------------------------------------------------------------


RULE_FIELDS = ("name", "order", "active", "match", "conditions", "actions", "stop_processing", "time_based")


def _rule_spec(raw: Mapping[str, Any]) -> RuleSpec:
    try:
        return validate_rule(raw)
    except RuleValidationError as exc:
        raise InvalidInput("The rule was not saved: " + str(exc), fields=exc.errors) from None


def _spec_fields(spec: RuleSpec) -> dict[str, Any]:
    data = spec.to_dict()
    return {name: data[name] for name in RULE_FIELDS}


def _rules_changed() -> None:
    # Open complaints are judged by the new rules now, not at their next change.
    from recovery.escalation.tasks import complaints_reassess_open_task

    enqueue_on_commit(complaints_reassess_open_task)


@transaction.atomic
def rule_create(*, data: Mapping[str, Any], actor: ActorRef) -> EscalationRule:
    """Create a rule from raw data (validated by rules.validate_rule; InvalidInput with the field errors).
    Without an order it goes last."""
    raw = {k: v for k, v in data.items() if k != "id"}
    if "order" not in raw:
        last = EscalationRule.objects.aggregate(m=Max("order"))["m"]
        raw["order"] = min((last or 0) + 10, ORDER_LIMIT)
    spec = _rule_spec(raw)
    rule = EscalationRule.objects.create(**_spec_fields(spec), updated_by=_user(actor))
    _rules_changed()
    return rule


@transaction.atomic
def rule_update(*, rule: EscalationRule, changes: Mapping[str, Any], actor: ActorRef) -> EscalationRule:
    """Change some of a rule's keys; the whole rule is validated before anything is saved."""
    rule = EscalationRule.objects.select_for_update().get(pk=rule.pk)
    merged = {**sel.rule_as_dict(rule), **{k: v for k, v in changes.items() if k != "id"}, "id": rule.pk}
    spec = _rule_spec(merged)
    for name, value in _spec_fields(spec).items():
        setattr(rule, name, value)
    rule.updated_by = _user(actor)
    rule.save()
    _rules_changed()
    return rule


@transaction.atomic
def rule_delete(*, rule: EscalationRule, actor: ActorRef) -> None:
    """Delete a rule. Escalations it caused keep their reason text; deactivating keeps its history instead."""
    EscalationRule.objects.filter(pk=rule.pk).delete()
    _rules_changed()


@transaction.atomic
def rule_move(*, rule: EscalationRule, direction: str, actor: ActorRef) -> EscalationRule:
    """Swap the rule with its neighbour ('up' runs it earlier) and renumber all rules 10, 20, 30…"""
    if direction not in ("up", "down"):
        raise InvalidInput("Move a rule 'up' or 'down'.")
    rules = list(EscalationRule.objects.select_for_update().order_by("order", "id"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    now = timezone.now()
    for position, item in enumerate(rules, start=1):
        if item.order != position * 10:
            # updated_at too: it is how workers notice the rules changed (selectors.rule_set).
            EscalationRule.objects.filter(pk=item.pk).update(order=position * 10, updated_at=now)
            item.order = position * 10
    _rules_changed()
    return next(r for r in rules if r.pk == rule.pk)


def _user(actor: ActorRef) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


# --- imported history --------------------------------------------------------------------------


def complaints_grade_importing(
    *, complaints: Sequence[Complaint], comments: Sequence[Sequence[str]], now: datetime | None = None
) -> None:
    """Grade a batch of imported complaints before they are inserted (tickets' `complaints_importing`).

    Sets grade, risk_score, grade_reasons (and assessed_at on closed ones) on the unsaved instances; two queries per batch
    (the customers, and their earlier complaints for the repeat count), whatever its size.
    """
    if not complaints:
        return
    now = now or timezone.now()
    config = sel.grading_config()
    # Only what grading reads of a customer: a third of the cost of loading whole rows.
    customers = Customer.objects.only("id", "lifetime_value", "social_reach").in_bulk({c.customer_id for c in complaints})
    earliest = min(c.created_at for c in complaints) - sel.REPEAT_WINDOW
    latest = max(c.created_at for c in complaints)
    history: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, created in Complaint.objects.filter(
        customer_id__in=list(customers), created_at__gte=earliest, created_at__lt=latest
    ).values_list("customer_id", "created_at"):
        history[customer_id].append(created)
    for complaint in complaints:  # the batch's own complaints count as earlier ones too
        history[complaint.customer_id].append(complaint.created_at)
    for times in history.values():
        times.sort()
    for complaint, said in zip(complaints, comments, strict=True):
        complaint.customer = customers[complaint.customer_id]
        times = history[complaint.customer_id]
        repeat = bisect_left(times, complaint.created_at) - bisect_left(times, complaint.created_at - sel.REPEAT_WINDOW)
        hours = sel.hours_unanswered(complaint, None, now)
        newest_first = list(reversed(said))[: sel.CUSTOMER_COMMENT_LIMIT]
        grade = grade_experience(sel.grade_signals(complaint, hours=hours, repeat_count=repeat, comments=newest_first), config)
        complaint.grade, complaint.risk_score, complaint.grade_reasons = grade.grade, grade.score, reasons_json(grade)
        # Closed: this is its assessment. Open: the normal assessment follows and stamps assessed_at (until then
        # the SLA sweep counts it as never assessed, so a lost task is caught).
        complaint.assessed_at = now if complaint.status in CLOSED_STATUSES else None


def complaints_imported_assess(*, complaints: Sequence[Complaint]) -> int:
    """After a batch of imported complaints is inserted (tickets' `complaints_imported`): queue the open ones for
    the normal assessment (rules, escalation, notifications) on commit. A closed one is history: it keeps the
    grade it went in with; no rules run, nothing is escalated, nobody is notified. Returns how many were queued."""
    open_ids = [c.pk for c in complaints if c.status not in CLOSED_STATUSES]
    if open_ids:
        from recovery.escalation.tasks import complaints_assess_many_task

        # One message per batch; the worker fans it out. If it is lost, the SLA sweep's never-assessed pass
        # finds them: an open imported complaint has its grade but no assessed_at until it is assessed.
        enqueue_on_commit(complaints_assess_many_task, open_ids, "imported")
    return len(open_ids)


# --- grading settings --------------------------------------------------------------------------


@transaction.atomic
def grading_settings_update(*, config: Mapping[str, Any], actor: ActorRef) -> GradingSettings:
    """Store new grading settings (any subset of GradingConfig's keys; {} means the defaults).
    Invalid settings raise InvalidInput with a message per setting and are not saved."""
    try:
        GradingConfig.from_dict(config)
    except GradingConfigError as exc:
        raise InvalidInput("The grading settings were not saved: " + str(exc), fields=exc.errors) from None
    row = GradingSettings.objects.select_for_update().order_by("pk").first() or GradingSettings()
    row.config = dict(config)
    row.updated_by = _user(actor)
    row.save()
    _rules_changed()
    return row


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
    run = BacktestRun.objects.create(days=days, candidate_rules=to_json(stored), created_by=_user(actor))
    from recovery.escalation.tasks import backtest_run_task

    enqueue_on_commit(backtest_run_task, run.pk)
    return run


def backtest_run(*, run_id: int, now: datetime | None = None) -> BacktestRun | None:
    """Compute a queued backtest, writing progress as it goes. Reads complaints, never writes them.
    Returns None when the run was already claimed (a second delivery of the task)."""
    claimed = BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.QUEUED).update(
        status=BacktestRun.Status.RUNNING, progress=0, started_at=timezone.now()
    )
    if not claimed:
        return None
    run = BacktestRun.objects.get(pk=run_id)
    try:
        result = _backtest(run, now or timezone.now())
    except Exception as exc:  # noqa: BLE001 - a failed run must say so on its page, not stay "running"
        logger.exception("Backtest %s failed", run_id)
        BacktestRun.objects.filter(pk=run_id).update(
            status=BacktestRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
    else:
        BacktestRun.objects.filter(pk=run_id).update(
            status=BacktestRun.Status.DONE, progress=100, result=result, finished_at=timezone.now()
        )
    return BacktestRun.objects.get(pk=run_id)


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
    stalled = BacktestRun.objects.filter(
        status=BacktestRun.Status.RUNNING, started_at__lt=now - sel.BACKTEST_STALLED
    ).update(status=BacktestRun.Status.FAILED, error=BACKTEST_STALLED_MESSAGE, finished_at=now)
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
    history: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, created in (
        Complaint.objects.filter(
            customer_id__in=complaints.values("customer_id"), created_at__gte=start - sel.REPEAT_WINDOW
        )
        .order_by("created_at")
        .values_list("customer_id", "created_at")
    ):
        history[customer_id].append(created)

    empty = {t: 0 for t in TIERS[1:]}
    days: dict[str, dict[str, dict[str, int]]] = {}
    totals = {"current": dict(empty), "candidate": dict(empty)}
    changed: list[dict[str, Any]] = []
    changed_count = 0
    for done, complaint in enumerate(complaints.order_by("created_at", "id").iterator(chunk_size=BACKTEST_CHUNK), start=1):
        times = history[complaint.customer_id]
        repeat = bisect_left(times, complaint.created_at) - bisect_left(times, complaint.created_at - sel.REPEAT_WINDOW)
        outcome = {label: _replay(complaint, rules, config, repeat, now) for label, rules in
                   (("current", current), ("candidate", candidate))}
        day = timezone.localdate(complaint.created_at).isoformat()
        row = days.setdefault(day, {"current": dict(empty), "candidate": dict(empty)})
        for label, tier in outcome.items():
            if tier != Tier.FRONTLINE:
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
        "tiers": list(TIERS[1:]),
        "days": [{"date": d, **days[d]} for d in sorted(days)],
        "totals": totals,
        "changed_count": changed_count,
        "changed": changed,
        "current_rules": [r.name for r in current],
        "candidate_rules": [r.name for r in candidate if r.active],
    }


def _replay(complaint: Complaint, rules: Sequence[RuleSpec], config: GradingConfig, repeat: int, now: datetime) -> str:
    """The tier the rules would have taken this complaint to: when it was logged, and just before its first
    response (or now if it never got one), with the deadlines the first evaluation set. Pure."""
    tags = frozenset(complaint.tags or [])

    def facts_at(hours: float, tier: str, extra_tags: Iterable[str], response_h: float | None, resolution_h: float | None) -> ComplaintFacts:
        signals = sel.grade_signals(complaint, hours=hours, repeat_count=repeat)
        grade = grade_experience(signals, config)
        facts = sel.complaint_facts(complaint, grade=grade.grade, score=grade.score, hours=hours, repeat_count=repeat, now=now)
        return replace(
            facts,
            status=Status.NEW,  # before its first response a complaint is new
            tier=tier,
            tags=tags | frozenset(extra_tags),
            response_overdue=response_h is not None and hours > response_h,
            resolution_overdue=resolution_h is not None and hours > resolution_h,
        )

    first = evaluate(rules, facts_at(0.0, Tier.FRONTLINE, (), None, None)).decision
    hours = sel.hours_unanswered(complaint, None, now)
    if hours <= 0:
        return first.target_tier
    later = evaluate(
        rules,
        facts_at(hours, first.target_tier, first.tags, first.response_deadline_hours, first.resolution_deadline_hours),
        first.fired_time_rules,
    ).decision
    return TIERS[max(TIERS.index(first.target_tier), TIERS.index(later.target_tier))]

