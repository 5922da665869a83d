"""Assess a complaint: grade it, run the active rules and apply what they decide.

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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.escalation import selectors as sel
from recovery.escalation.facts import complaint_facts, grade_signals, hours_unanswered, time_horizon_hours
from recovery.escalation.grading import Grade, GradeSignals, GradingConfig, grade_experience
from recovery.escalation.rules import NOTIFY_ASSIGNEE, ComplaintFacts, Decision, Evaluation, RuleSpec, evaluate
from recovery.escalation.services.clock import clock_reconcile
from recovery.escalation.services.common import (
    DEFAULT_ACK_HOURS,
    RULES_ACTOR,
    _Raced,
    _sentence,
    _tier_word,
    reasons_json,
    tier_users,
    to_json,
)
from recovery.formatting import hours_text, when
from recovery.models import ESCALATION_TRANSITIONS, Assessment, Escalation, RuleFiring, SlaClock
from recovery.transitions import transition
from recovery.vocabulary import CLOSED_STATUSES, GRADES, TIERS
from tickets.events import event_write
from tickets.models import Complaint, Status, Tier, TimelineEvent

logger = logging.getLogger(__name__)


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
    clock, clock_changed = clock_reconcile(complaint, now, updates)

    config = sel.grading_config()
    ruleset = sel.rule_set()
    rules = ruleset.specs
    fired_before = frozenset(RuleFiring.objects.filter(complaint=complaint).values_list("rule_id", flat=True))
    signals, grade, facts = _graded(complaint, clock, config, now)
    evaluation = evaluate(rules, facts, fired_before)
    plan = _plan(complaint, evaluation, rules, clock, grade, now)
    fingerprint = _fingerprint_after(complaint, plan, signals, grade, facts, fired_before, ruleset, config)
    last = Assessment.objects.filter(complaint=complaint).order_by("-created_at", "-id").values_list("fingerprint", flat=True).first()
    if last == fingerprint and not plan.has_effects(complaint):
        if clock_changed:
            _complaint_write(complaint, updates, now)
            return AssessResult("assessed", changed=tuple(updates))
        return AssessResult("unchanged")

    _firings_claim(complaint, plan.fired)
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
    _publish(complaint, graded_from, grade, escalation)
    return AssessResult("assessed", assessment, escalation, tuple(updates))


def _graded(
    complaint: Complaint, clock: SlaClock | None, config: GradingConfig, now: datetime
) -> tuple[GradeSignals, Grade, ComplaintFacts]:
    """What grading reads of the complaint now, the grade it gives, and the facts the rules read."""
    repeat = sel.repeat_complaint_count(complaint)
    hours = hours_unanswered(complaint, clock, now)
    comments = sel.customer_comment_texts(complaint)
    signals = grade_signals(complaint, hours=hours, repeat_count=repeat, comments=comments)
    grade = grade_experience(signals, config)
    facts = complaint_facts(
        complaint,
        grade=grade.grade,
        score=grade.score,
        hours=hours,
        repeat_count=repeat,
        now=now,
        ack_due_at=sel.open_escalation_ack_due(complaint),
    )
    return signals, grade, facts


def _fingerprint_after(
    complaint: Complaint,
    plan: _Plan,
    signals: GradeSignals,
    grade: Grade,
    facts: ComplaintFacts,
    fired_before: frozenset[int],
    ruleset: sel.RuleSet,
    config: GradingConfig,
) -> str:
    """Fingerprint the state the complaint will be in once this plan is applied, so a re-run on the
    unchanged complaint computes the same fingerprint and stops there."""
    after = replace(
        facts,
        tier=plan.tier,
        tags=facts.tags | frozenset(plan.tags),
        response_overdue=facts.response_overdue and plan.response_due_at is None,
        resolution_overdue=facts.resolution_overdue and plan.resolution_due_at is None,
        # Escalating again supersedes the unacknowledged escalation with a new one and a new deadline.
        acknowledgement_overdue=facts.acknowledgement_overdue and plan.tier == complaint.tier,
    )
    rules = ruleset.specs
    evaluation = evaluate(rules, after, fired_before | plan.fired)
    return _fingerprint(signals, grade, after, evaluation, ruleset.digest, config, time_horizon_hours(config, rules))


def _firings_claim(complaint: Complaint, fired: frozenset[int]) -> None:
    """Record the once-per-complaint rules that fired; a concurrent assessment that recorded one first wins."""
    for rule_id in sorted(fired):
        try:
            with transaction.atomic():
                RuleFiring.objects.create(complaint=complaint, rule_id=rule_id)
        except IntegrityError:
            raise _Raced from None


def _publish(complaint: Complaint, graded_from: str, grade: Grade, escalation: Escalation | None) -> None:
    if graded_from != grade.grade:
        webhook_payloads.publish(
            "complaint.graded",
            complaint,
            grade={"from": graded_from or None, "to": grade.grade, "score": grade.score, "reasons": reasons_json(grade)},
        )
    if escalation is not None:
        webhook_payloads.publish("complaint.escalated", complaint, escalation=webhook_payloads.escalation_data(escalation))


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
            parts.append(f"response due {when(plan.response_due_at)} ({hours_text(evaluation.decision.response_deadline_hours)})")
        if plan.resolution_due_at:
            updates["resolution_due_at"] = plan.resolution_due_at
            parts.append(f"resolution due {when(plan.resolution_due_at)} ({hours_text(evaluation.decision.resolution_deadline_hours)})")
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
    transition(
        Escalation.objects.filter(complaint=complaint), table=ESCALATION_TRANSITIONS,
        from_status=Escalation.Status.OPEN, to_status=Escalation.Status.SUPERSEDED,
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
