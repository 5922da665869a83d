"""Reads for the playbook, suggestions, offers, approvals and the spend report.

Suggestions: the complaint becomes a `playbook.ComplaintContext` and the playbook is ranked by the pure
`ranking.rank_gestures`, with the learned return rates plugged in. Decisions taken here (see
docs/playbook-and-approvals.md):

- Not graded yet (grading runs seconds after logging): ranked as *bad*. *Neutral* would hide most gestures
  from the cases that need one; *ugly* would put the executive gestures in front of a case nobody has
  judged. The page says the grade is assumed.
- No budget cap: the approval workflow, not the ranking, decides money. Hiding what is over the agent's
  own limit would hide exactly the costly-but-right gestures an executive should be asked about, so each
  suggestion says instead who has to approve it at that cost.
- Equipoise: first place is drawn among the gestures in equipoise (RECOVERY_EQUIPOISE_POINTS, gestures
  the data cannot yet tell apart, those sharing an equivalence group) with an rng seeded with (complaint,
  hour), so reloading the page, the API and the offer itself see the same ranking within the hour, and
  what is logged (with its chance) is what was shown; across complaints and hours the draws still explore.
- A gesture with surprise is never suggested again to a customer who was once offered it (approved,
  fulfilled or declined: they have seen it), however long ago.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from recovery.models import ApprovalLimit, ApprovalRequest, Assessment, Gesture, Offer
from recovery.offers.playbook import ComplaintContext, Exclusion, GestureSpec, Ranking, Suggestion
from recovery.offers.ranking import rank_gestures
from recovery.outcomes.learned import learned_rates_for
from recovery.vocabulary import TIERS
from tickets.models import ROLE_TIER, Complaint, Tier

logger = logging.getLogger(__name__)

# Money a tier may spend on one gesture without asking; used for a tier with no ApprovalLimit row.
# The same numbers ship as rows in migration 0003 (why these: see that migration).
DEFAULT_APPROVAL_LIMITS: Mapping[str, Decimal | None] = {
    Tier.FRONTLINE: Decimal("50.00"),
    Tier.LEAD: Decimal("250.00"),
    Tier.MANAGER: Decimal("1000.00"),
    Tier.EXECUTIVE: None,
}
TIER_ROLE: Mapping[str, str] = {tier: role for role, tier in ROLE_TIER.items()}
TOP_SUGGESTIONS = 3
UNGRADED_AS = "bad"
RECEIVED_WINDOW = timedelta(days=365)
# Offers that count as "the customer got this gesture" for the never-repeat rule; a rejected, declined or
# withdrawn offer was never given.
RECEIVED_STATUSES = (Offer.Status.APPROVED, Offer.Status.FULFILLED)
# Offers the customer has seen: a surprise among them is no surprise the next time.
SEEN_STATUSES = (Offer.Status.APPROVED, Offer.Status.FULFILLED, Offer.Status.DECLINED)
# Offers still in flight (not yet fulfilled, declined, rejected or withdrawn); not tickets' OPEN_STATUSES of a complaint.
IN_FLIGHT_STATUSES = (Offer.Status.PROPOSED, Offer.Status.PENDING_APPROVAL, Offer.Status.APPROVED)
# Offers whose money is committed: approved and not (yet) declined by the customer nor withdrawn.
COMMITTED_STATUSES = (Offer.Status.APPROVED, Offer.Status.FULFILLED)
EVER_APPROVED_STATUSES = (Offer.Status.APPROVED, Offer.Status.FULFILLED, Offer.Status.DECLINED)
# Approved at some point, withdrawn later included: approved_tier is set exactly when an offer is approved.
EVER_APPROVED = Q(status__in=EVER_APPROVED_STATUSES) | (Q(status=Offer.Status.WITHDRAWN) & ~Q(approved_tier=""))


# --- limits and routing facts -----------------------------------------------------------------


def approval_limits() -> dict[str, Decimal | None]:
    """Tier -> the most it may spend on one gesture without asking (None: no limit). One query."""
    limits = dict(DEFAULT_APPROVAL_LIMITS)
    limits.update(dict(ApprovalLimit.objects.values_list("tier", "amount")))
    return limits


def rule_approval_tier(*, complaint_id: int) -> str | None:
    """The tier the escalation rules require for gestures on this complaint (`require_approval` in the latest
    assessment's decision), or None. Read defensively: the decision is free-form JSON written elsewhere."""
    decision = (
        Assessment.objects.filter(complaint_id=complaint_id)
        .order_by("-created_at", "-id")
        .values_list("decision", flat=True)
        .first()
    )
    if not isinstance(decision, dict):
        return None
    tier = decision.get("require_approval")
    return tier if isinstance(tier, str) and tier in TIERS else None


def approvers_for(*, tier: str, exclude_user_id: int | None = None) -> list[Any]:
    """Active people who decide requests at `tier`; the next tier up when nobody holds it, superusers last.

    The offer's proposer is left out: nobody approves their own offer.
    """
    users = get_user_model().objects.filter(is_active=True).exclude(pk=exclude_user_id).order_by("pk")
    for candidate in TIERS[TIERS.index(tier) :]:
        people = list(users.filter(groups__name=TIER_ROLE[candidate]).distinct())
        if people:
            return people
    return list(users.filter(is_superuser=True))


# --- suggestions ----------------------------------------------------------------------------------


def gesture_spec(gesture: Gesture) -> GestureSpec:
    """The playbook row as the pure ranking sees it; ValueError when the row is not valid."""
    return GestureSpec(
        id=gesture.pk,
        code=gesture.code,
        title=gesture.title,
        resource_kind=gesture.resource_kind,
        causes=frozenset(gesture.causes or ()),
        cost=gesture.cost,
        cost_pct_of_loss=gesture.cost_pct_of_loss,
        perceived_value=gesture.perceived_value,
        surprise=gesture.surprise,
        min_grade=gesture.min_grade,
        approval_tier=gesture.approval_tier,
        per_customer_per_year=gesture.per_customer_per_year,
        active=gesture.active,
    )


def playbook_specs(gestures: Iterable[Gesture]) -> list[GestureSpec]:
    specs = []
    for gesture in gestures:
        try:
            specs.append(gesture_spec(gesture))
        except ValueError:
            # A row broken outside the validated forms (e.g. the shell) must not take the page down.
            logger.warning("Gesture %s (%s) is not valid and is left out of suggestions", gesture.pk, gesture.code)
    return specs


def received_gesture_counts(*, customer_id: int, now: datetime) -> dict[str, int]:
    """Gesture code -> how many of it this customer was given (approved or fulfilled) in the past year."""
    rows = (
        Offer.objects.filter(
            complaint__customer_id=customer_id, status__in=RECEIVED_STATUSES, created_at__gte=now - RECEIVED_WINDOW
        )
        .values("gesture__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["gesture__code"]: row["n"] for row in rows}


def ever_offered_gestures(*, customer_id: int) -> frozenset[str]:
    """Codes of the gestures this customer was ever offered (approved, fulfilled or declined)."""
    return frozenset(
        Offer.objects.filter(complaint__customer_id=customer_id, status__in=SEEN_STATUSES)
        .values_list("gesture__code", flat=True)
        .distinct()
    )


def equivalence_groups(gestures: Iterable[Gesture]) -> list[frozenset[str]]:
    """Groups of gesture codes a manager marked as equally good (same equivalence group name)."""
    groups: dict[str, set[str]] = {}
    for gesture in gestures:
        if gesture.equivalence_group:
            groups.setdefault(gesture.equivalence_group.strip().lower(), set()).add(gesture.code)
    return [frozenset(codes) for codes in groups.values() if len(codes) > 1]


def suggestion_seed(*, complaint_id: int, now: datetime) -> int:
    """Same seed for one complaint within one clock hour (see the module docstring)."""
    hour = int(now.timestamp() // 3600)
    return int.from_bytes(hashlib.sha256(f"{complaint_id}:{hour}".encode()).digest()[:8], "big")


@dataclass(frozen=True)
class SuggestionView:
    complaint: Complaint
    context: ComplaintContext
    # Every gesture that may be offered, best first, renumbered after leaving out open offers.
    ranked: tuple[Suggestion, ...]
    excluded: tuple[Exclusion, ...]
    specs: Mapping[str, GestureSpec]
    scripts: Mapping[str, str]
    graded: bool
    seed: int
    # First place was drawn at random among gestures in equipoise (each suggestion's propensity).
    randomised: bool = False

    @property
    def top(self) -> tuple[Suggestion, ...]:
        return self.ranked[:TOP_SUGGESTIONS]

    def suggestion_for(self, code: str) -> Suggestion | None:
        return next((s for s in self.ranked if s.gesture_code == code), None)

    def exclusion_for(self, code: str) -> Exclusion | None:
        return next((e for e in self.excluded if e.gesture_code == code), None)


def complaint_suggestions(*, complaint: Complaint, now: datetime | None = None) -> SuggestionView:
    """Rank the active playbook for this complaint. Six queries; writes nothing (logging is a service)."""
    now = now or timezone.now()
    context = _ranking_context(complaint, now)
    gestures = list(Gesture.objects.filter(active=True).order_by("code"))
    specs = playbook_specs(gestures)
    seed = suggestion_seed(complaint_id=complaint.pk, now=now)
    learned = learned_rates_for(complaint.cause, codes=[spec.code for spec in specs])
    ranking: Ranking = rank_gestures(
        specs,
        context,
        learned,
        limit=None,
        rng=random.Random(seed),
        band_points=settings.RECOVERY_EQUIPOISE_POINTS,
        equivalent=equivalence_groups(gestures),
    )
    ranked, excluded = _without_in_flight(complaint, ranking)
    return SuggestionView(
        complaint=complaint,
        context=context,
        ranked=tuple(ranked),
        excluded=tuple(excluded),
        specs={spec.code: spec for spec in specs},
        scripts={gesture.code: gesture.script for gesture in gestures},
        graded=bool(complaint.grade),
        seed=seed,
        # An open offer taking first place out of the list leaves the draw unlogged-as-shown.
        randomised=ranking.randomised and bool(ranked) and ranked[0].gesture_code == ranking.suggestions[0].gesture_code,
    )


def _ranking_context(complaint: Complaint, now: datetime) -> ComplaintContext:
    """What ranking knows of the complaint and its customer (an ungraded complaint ranks as UNGRADED_AS)."""
    customer = complaint.customer
    return ComplaintContext(
        cause=complaint.cause,
        grade=complaint.grade or UNGRADED_AS,
        monetary_loss=complaint.monetary_loss,
        lifetime_value=customer.lifetime_value,
        received_gesture_counts_past_year=received_gesture_counts(customer_id=customer.pk, now=now),
        ever_offered=ever_offered_gestures(customer_id=customer.pk),
        budget=None,
        currency=complaint.currency,
    )


def _without_in_flight(complaint: Complaint, ranking: Ranking) -> tuple[list[Suggestion], list[Exclusion]]:
    """The ranking renumbered without the gestures already in flight on this complaint, which are not suggested
    again: they join the exclusions."""
    in_flight = dict(
        Offer.objects.filter(complaint=complaint, status__in=IN_FLIGHT_STATUSES).values_list("gesture__code", "status")
    )
    ranked, excluded = [], list(ranking.excluded)
    for suggestion in ranking.suggestions:
        status = in_flight.get(suggestion.gesture_code)
        if status is None:
            ranked.append(replace(suggestion, rank=len(ranked) + 1))
        else:
            label = Offer.Status(status).label.lower()
            excluded.append(
                Exclusion(
                    suggestion.gesture_id, suggestion.gesture_code, "open_offer", f"Already offered here ({label})"
                )
            )
    return ranked, excluded


# --- offers -------------------------------------------------------------------------------------


def offer_list() -> QuerySet[Offer]:
    current = ApprovalRequest.objects.select_related("decided_by").order_by("-created_at", "-id")
    return Offer.objects.select_related("gesture", "complaint", "proposed_by").prefetch_related(
        Prefetch("approval_requests", queryset=current)
    )


def complaint_offers(*, complaint: Complaint) -> QuerySet[Offer]:
    """The complaint's offers, newest first, with their approval requests (two queries)."""
    return offer_list().filter(complaint=complaint).order_by("-created_at", "-id")


def offer_get(*, offer_id: int) -> Offer | None:
    return offer_list().filter(pk=offer_id).first()


def gestures_offerable() -> QuerySet[Gesture]:
    return Gesture.objects.filter(active=True).order_by("title")


# --- approvals ----------------------------------------------------------------------------------


def _gestures_past_year(now: datetime) -> Subquery:
    received = (
        Offer.objects.filter(
            complaint__customer_id=OuterRef("offer__complaint__customer_id"),
            status__in=RECEIVED_STATUSES,
            created_at__gte=now - RECEIVED_WINDOW,
        )
        .order_by()
        .values("complaint__customer_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(received, output_field=IntegerField()), Value(0))


def approval_list(*, now: datetime | None = None) -> QuerySet[ApprovalRequest]:
    """Approval requests with everything the inbox and the API show, in a fixed number of queries."""
    now = now or timezone.now()
    history = ApprovalRequest.objects.select_related("decided_by").order_by("created_at", "id")
    return (
        ApprovalRequest.objects.select_related(
            "offer__gesture", "offer__complaint__customer", "offer__proposed_by", "requested_by", "decided_by"
        )
        .prefetch_related(Prefetch("offer__approval_requests", queryset=history, to_attr="history"))
        .annotate(customer_gestures_past_year=_gestures_past_year(now))
    )


@dataclass(frozen=True)
class InboxView:
    tier: str
    show: str = "pending"  # pending | decided
    below: bool = False  # also the tiers below mine (I may decide those too)


def approval_inbox(view: InboxView, *, now: datetime | None = None) -> QuerySet[ApprovalRequest]:
    """Pending: at my tier (and below when asked), longest waiting first. Decided: newest decisions first."""
    index = TIERS.index(view.tier)
    tiers = TIERS[: index + 1] if view.below else (view.tier,)
    qs = approval_list(now=now).filter(required_tier__in=tiers)
    if view.show == "decided":
        return qs.exclude(status=ApprovalRequest.Status.PENDING).order_by("-decided_at", "-id")
    return qs.filter(status=ApprovalRequest.Status.PENDING).order_by("created_at", "id")


def approval_get(*, approval_id: int) -> ApprovalRequest | None:
    return approval_list().filter(pk=approval_id).first()


def approval_pending_count(*, tier: str) -> int:
    return ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING, required_tier=tier).count()


@dataclass(frozen=True)
class SweepPlan:
    remind_ids: list[int]
    escalate_ids: list[int]


def approvals_due(*, now: datetime, remind_after: timedelta, limit: int = 500) -> SweepPlan:
    """Ids of pending requests due a reminder (never reminded, older than `remind_after`) and of those due to
    move up (reminded, past `due_at`, below the top tier). Two queries, whatever the table size."""
    pending = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
    remind = pending.filter(reminded_at__isnull=True, created_at__lte=now - remind_after).order_by("created_at", "id")
    escalate = (
        pending.filter(reminded_at__isnull=False, due_at__lte=now)
        .exclude(required_tier=Tier.EXECUTIVE)
        .order_by("due_at", "id")
    )
    return SweepPlan(
        remind_ids=list(remind.values_list("pk", flat=True)[:limit]),
        escalate_ids=list(escalate.values_list("pk", flat=True)[:limit]),
    )


# --- spend --------------------------------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def _counts() -> dict[str, Any]:
    S = Offer.Status
    return {
        "offered": Count("id"),
        "approved": Count("id", filter=EVER_APPROVED),
        "rejected": Count("id", filter=Q(status=S.REJECTED)),
        "waiting": Count("id", filter=Q(status=S.PENDING_APPROVAL)),
        "fulfilled": Count("id", filter=Q(status=S.FULFILLED)),
        "declined": Count("id", filter=Q(status=S.DECLINED)),
        "withdrawn": Count("id", filter=Q(status=S.WITHDRAWN)),
        "committed_cost": Coalesce(Sum("cost", filter=Q(status__in=COMMITTED_STATUSES)), Value(Decimal("0"))),
        "fulfilled_cost": Coalesce(Sum("cost", filter=Q(status=S.FULFILLED)), Value(Decimal("0"))),
        "waiting_cost": Coalesce(Sum("cost", filter=Q(status=S.PENDING_APPROVAL)), Value(Decimal("0"))),
    }


def spend_window(*, months: int = 12, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The first and the last month the spend report covers: `months` months up to and including this one."""
    last = month_start(now or timezone.now())
    return add_months(last, -(months - 1)), last


def spend_by_month(*, months: int = 12, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per month (newest first) and currency: gestures offered, approved, rejected, waiting, fulfilled, declined,
    withdrawn, and the cost committed (approved or fulfilled), fulfilled and waiting. Offers count in the month they
    were made. One aggregate query."""
    start, _ = spend_window(months=months, now=now)
    rows = (
        Offer.objects.filter(created_at__gte=start)
        .annotate(month=TruncMonth("created_at"))
        .values("month", "currency")
        .annotate(**_counts())
        .order_by("-month", "currency")
    )
    return [{**row, "month": timezone.localtime(row["month"]).date()} for row in rows]


def spend_breakdown(*, month: datetime) -> dict[str, list[dict[str, Any]]]:
    """One month's offers by the tier that approved them, by complaint cause and by gesture. Three queries."""
    start = month_start(month)
    month_offers = Offer.objects.filter(created_at__gte=start, created_at__lt=add_months(start, 1))
    by_tier = (
        month_offers.filter(EVER_APPROVED)
        .values("approved_tier", "currency")
        .annotate(
            approved=Count("id"), committed_cost=_counts()["committed_cost"], fulfilled_cost=_counts()["fulfilled_cost"]
        )
        .order_by("approved_tier", "currency")
    )
    by_cause = (
        month_offers.values("complaint__cause", "currency")
        .annotate(**_counts())
        .order_by("complaint__cause", "currency")
    )
    by_gesture = (
        month_offers.values("gesture__code", "gesture__title", "currency")
        .annotate(**_counts())
        .order_by("-committed_cost", "gesture__title")
    )
    tier_rank = {tier: i for i, tier in enumerate(TIERS)}
    return {
        "by_tier": sorted(by_tier, key=lambda r: (tier_rank.get(r["approved_tier"], -1), r["currency"])),
        "by_cause": list(by_cause),
        "by_gesture": list(by_gesture),
    }
