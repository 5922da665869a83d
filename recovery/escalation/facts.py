"""What a complaint looks like to grading and rules: plain functions of already-loaded rows (no queries), so the
assessment service, the backtest, the import and the panel describe a complaint the same way.

The reads these need (earlier complaints, the customer's comments, the open escalation's deadline) are in
selectors.py; the callers load them and pass them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from recovery.escalation.grading import GradeSignals, GradingConfig
from recovery.escalation.rules import ComplaintFacts, RuleSpec
from recovery.models import SlaClock
from tickets.models import Channel, Complaint, Status

# Tags an agent adds when the customer threatens a lawyer, the press or a regulator; they force *ugly*.
LEGAL_OR_MEDIA_TAGS = frozenset({"legal", "legal-threat", "lawyer", "media", "media-threat", "press"})
# The statuses whose SLA clock runs. waiting_on_customer pauses it; resolved/closed stop it.
CLOCK_RUNNING_STATUSES = (Status.NEW, Status.IN_PROGRESS)

def time_horizon_hours(config: GradingConfig, rules: Sequence[RuleSpec]) -> float:
    """Hours without a response after which neither the grade nor any rule can change with time alone."""
    horizon = config.ignored_after_hours
    if config.points_per_hour_unanswered > 0:
        horizon = max(horizon, config.unanswered_points_cap / config.points_per_hour_unanswered)
    for rule in rules:
        for condition in rule.conditions:
            if condition.field == "hours_unanswered":
                values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
                horizon = max(horizon, *(float(v) for v in values))
    return horizon + 1


def paused_seconds(clock: SlaClock | None, now: datetime) -> float:
    """Seconds the SLA clock has stood still, including a pause still running."""
    if clock is None:
        return 0.0
    running = (now - clock.paused_at).total_seconds() if clock.paused_at else 0.0
    return clock.paused_seconds + max(0.0, running)


def hours_unanswered(complaint: Complaint, clock: SlaClock | None, now: datetime) -> float:
    """Hours from logging to the first response (or to now), minus time the clock was paused.

    A resolved or closed complaint that never got a response stops counting when it was resolved.
    """
    end = complaint.first_response_at or complaint.resolved_at or complaint.closed_at or now
    end = min(end, now)
    seconds = (end - complaint.created_at).total_seconds()
    if complaint.first_response_at is None:
        # With today's transition table a pause always starts after the first response (leaving `new`
        # stamps it), so this only matters for data written by other means.
        seconds -= paused_seconds(clock, now)
    return max(0.0, seconds / 3600)


def is_public_post(complaint: Complaint) -> bool:
    """A complaint on the social channel that the agent marked as public (or threatening to be).

    The social channel also carries private messages, so the channel alone is not enough; a public
    post with a small audience still forces *ugly* because anyone can see it.
    """
    return complaint.channel == Channel.SOCIAL and complaint.threatens_public


def has_legal_or_media_threat(tags: Iterable[str]) -> bool:
    return any(str(tag).strip().lower() in LEGAL_OR_MEDIA_TAGS for tag in tags)


def complaint_texts(complaint: Complaint, comments: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    """The customer's words that grading searches for phrases: subject, description, then their comments."""
    texts = [("subject", complaint.subject or ""), ("description", complaint.description or "")]
    texts.extend(("comment", body) for body in comments if body)
    return tuple(texts)


def grade_signals(
    complaint: Complaint, *, hours: float, repeat_count: int, comments: Sequence[str] = ()
) -> GradeSignals:
    """What grading knows of the complaint. `comments`: the customer's later messages (customer_comment_texts);
    callers grading many complaints at once may leave them out and grade on subject and description."""
    customer = complaint.customer
    return GradeSignals(
        cause=complaint.cause,
        severity=complaint.severity,
        lifetime_value=customer.lifetime_value,
        social_reach=customer.social_reach,
        threatens_public=complaint.threatens_public,
        says_wont_return=complaint.says_wont_return,
        public_post=is_public_post(complaint),
        legal_or_media_threat=has_legal_or_media_threat(complaint.tags or []),
        repeat_complaints_90d=repeat_count,
        hours_unanswered=hours,
        monetary_loss=complaint.monetary_loss,
        currency=complaint.currency,
        texts=complaint_texts(complaint, comments),
    )


def response_overdue(complaint: Complaint, now: datetime) -> bool:
    return (
        complaint.status in CLOCK_RUNNING_STATUSES
        and complaint.first_response_at is None
        and complaint.response_due_at is not None
        and complaint.response_due_at <= now
    )


def resolution_overdue(complaint: Complaint, now: datetime) -> bool:
    return (
        complaint.status in CLOCK_RUNNING_STATUSES
        and complaint.resolution_due_at is not None
        and complaint.resolution_due_at <= now
    )


def acknowledgement_overdue(complaint: Complaint, ack_due_at: datetime | None, now: datetime) -> bool:
    """The open escalation's deadline passed unacknowledged; like the response clock, it pauses while waiting."""
    return complaint.status in CLOCK_RUNNING_STATUSES and ack_due_at is not None and ack_due_at <= now


def complaint_facts(
    complaint: Complaint,
    *,
    grade: str | None,
    score: int | None,
    hours: float,
    repeat_count: int,
    now: datetime,
    ack_due_at: datetime | None = None,
) -> ComplaintFacts:
    customer = complaint.customer
    return ComplaintFacts(
        grade=grade,
        score=score,
        cause=complaint.cause,
        severity=complaint.severity,
        channel=complaint.channel,
        lifetime_value=customer.lifetime_value,
        social_reach=customer.social_reach,
        repeat=repeat_count > 0,
        hours_unanswered=hours,
        status=complaint.status,
        tier=complaint.tier,
        tags=frozenset(complaint.tags or []),
        threatens_public=complaint.threatens_public,
        says_wont_return=complaint.says_wont_return,
        response_overdue=response_overdue(complaint, now),
        resolution_overdue=resolution_overdue(complaint, now),
        acknowledgement_overdue=acknowledgement_overdue(complaint, ack_due_at, now),
    )
