"""Demo data for outcomes, loaded once by `manage.py seed_recovery_demo` (called by `make run`).

A year of history, so the dashboard tells a story on first start: about 420 older complaints
(source "demo-history"), resolved quickly or slowly, with or without a fulfilled gesture; their
customers' activity before and after; and 160 customers who never complained. Who comes back is
drawn from a seeded random generator with rates shaped by the research in DESIGN.md (TARP: quick
resolutions bring back far more customers than slow ones, unresolved ones the fewest; Knox & van
Oest: recovery repairs only part of the damage, so customers who never complained return most).
Surprising, in-kind gestures do better, so the learning has something to find.

Outcomes are then opened (in bulk), settled and learned from through the real services.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from recovery.models import CustomerActivity, Gesture, Offer, RecoveryOutcome
from recovery.offers.playbook import KIND_FIT
from recovery.outcomes import services
from recovery.outcomes.metrics import recovery_metrics_refresh
from recovery.vocabulary import GRADES
from tickets.models import Complaint, Customer, CustomerReference, Status, TimelineEvent

SOURCE = "demo-history"
SHOP = "demo-shop"
COMPLAINTS = 420
NEVER_COMPLAINED = 160
SEED = 2026

FIRST = ["Alex", "Sam", "Jo", "Maya", "Leo", "Nina", "Omar", "Ines", "Tariq", "Lena", "Ravi", "Zoe", "Ida", "Milo",
         "Aisha", "Ben", "Clara", "Dev", "Elif", "Finn", "Hana", "Ivan", "Jade", "Kofi", "Lucia", "Mateo", "Noor", "Pia"]
LAST = ["Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski",
        "Lopez", "Murphy", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Taylor", "Ueda", "Varga"]
SUBJECTS = {
    "staff_conduct": ["Rude answer at the counter", "Agent hung up on me", "Staff argued in front of customers"],
    "product_quality": ["Zip broke after a week", "Kettle stopped heating", "Paint peeling on a new chair"],
    "service_delay": ["Delivery a week late", "Technician did not turn up", "Order stuck in processing"],
    "failed_fix": ["Same fault after the second repair", "Leak is back again", "Update broke the fix again"],
    "pricing": ["Charged the old price", "Discount not applied", "Surprise fee on the invoice"],
    "ignored": ["Three emails, no answer", "Callback never came", "Chat closed without a reply"],
    "other": ["Website kept logging me out", "Wrong name on the invoice", "Parking at the store closed"],
}
CAUSE_WEIGHTS = {"staff_conduct": 14, "product_quality": 22, "service_delay": 20, "failed_fix": 10,
                 "pricing": 14, "ignored": 14, "other": 6}
# A real mix: most experiences minor, a few percent ugly (the ugly ones still teach the executive gestures).
GRADE_WEIGHTS = {"good": 22, "neutral": 42, "bad": 31, "ugly": 5}
SURPRISE_EFFECT = {0: -0.05, 1: 0.0, 2: 0.04, 3: 0.08}
CENT = Decimal("0.01")


def seed(stdout: Any) -> None:
    """Add this area's demo data; called after tickets' seed_demo; must do nothing the second time."""
    if CustomerReference.objects.filter(source=SOURCE).exists():
        stdout.write("Outcomes demo: already loaded.")
        return
    gestures = list(Gesture.objects.filter(active=True))
    if not gestures:
        stdout.write("Outcomes demo: skipped (the starter playbook must be migrated first).")
        return
    rng = random.Random(SEED)
    now = timezone.now()
    complaints = _history(rng, now, gestures)
    browsers = _never_complained(rng, now)
    services.outcomes_open_many(complaint_ids=[c.pk for c in complaints], now=now)
    _backdate_outcome_events(complaints)
    services.outcome_windows_settle(now=now)
    learned = services.gesture_learning_recompute(now=now)
    # The history above was written in bulk, behind the services that keep the metrics rollup: build it now.
    services.outcome_rollup_rebuild(now=now)
    recovery_metrics_refresh()
    stdout.write(
        f"Outcomes demo: {len(complaints)} past complaints with outcomes, {browsers} customers who never complained, "
        f"{CustomerActivity.objects.count():,} activities, {learned.cells} learned (cause, gesture) cells."
    )


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _gesture_cost(gesture: Gesture, loss: Decimal) -> Decimal:
    if gesture.cost_pct_of_loss:
        return (loss * gesture.cost_pct_of_loss / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return gesture.cost


def _fitting(gestures: list[Gesture], cause: str, grade: str, loss: Decimal) -> list[Gesture]:
    """Gestures an agent could have chosen, best fit first (repay in kind, then surprise), like the ranking."""
    fit = [
        g for g in gestures
        if cause in g.causes and GRADES.index(grade) >= GRADES.index(g.min_grade) and (loss > 0 or not g.cost_pct_of_loss)
    ]
    return sorted(fit, key=lambda g: (-KIND_FIT[cause][g.resource_kind], -g.surprise, g.code))


def _return_chance(*, recovered: bool, quick: bool, grade: str, gesture: Gesture | None, cause: str) -> float:
    """Chance of coming back within 60 days, from the research's shape (see the module docstring)."""
    chance = 0.78 if recovered else 0.50
    chance += 0.08 if quick else -0.12
    chance += {"good": 0.05, "neutral": 0.0, "bad": -0.05, "ugly": -0.15}[grade]
    if gesture is not None:
        chance += SURPRISE_EFFECT[gesture.surprise] + (KIND_FIT[cause][gesture.resource_kind] - 0.6) * 0.15
    return min(max(chance, 0.05), 0.95)


def _first_return_day(rng: random.Random, chance_60: float) -> float | None:
    """Days until the first return, or None. Exponential with a 25-day mean, cut at 90 days: about 72% of
    returns within 90 days come in the first 30 and 93% within 60."""
    chance_90 = min(chance_60 / 0.934, 0.98)
    if rng.random() >= chance_90:
        return None
    cut = 1 - math.exp(-90 / 25)
    return -25 * math.log(1 - rng.random() * cut)


def _history(rng: random.Random, now: datetime, gestures: list[Gesture]) -> list[Complaint]:
    # The steps draw from one seeded rng in a fixed order (customers, then each complaint, then what followed
    # each), so the demo history is the same on every load.
    agents = list(get_user_model().objects.filter(username__in=["agent", "agent2", "lead"]))
    customers = _history_customers(rng)
    plans = [_history_plan(rng, index, customer, now, gestures, agents) for index, customer in enumerate(customers)]
    complaints = Complaint.objects.bulk_create([plan["complaint"] for plan in plans])
    for plan, complaint in zip(plans, complaints, strict=True):
        complaint.created_at = plan["created"]
        complaint.updated_at = plan["resolved"] + timedelta(days=7)
    Complaint.objects.bulk_update(complaints, ["created_at", "updated_at"])
    _history_events(complaints)
    _history_aftermath(rng, now, plans, complaints)
    return complaints


def _history_customers(rng: random.Random) -> list[Customer]:
    """One customer per history complaint, each with a reference in the history's source."""
    customers = Customer.objects.bulk_create(
        [
            Customer(
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email=f"history{index}@{SOURCE}.example",
                lifetime_value=_money(rng.lognormvariate(6, 1)),
                social_reach=int(rng.paretovariate(1.2) * 50),
                segment=rng.choice(["", "", "loyalty"]),
            )
            for index in range(COMPLAINTS)
        ]
    )
    CustomerReference.objects.bulk_create(
        [CustomerReference(customer=c, source=SOURCE, external_id=f"DH-{i}") for i, c in enumerate(customers)]
    )
    return customers


def _history_plan(
    rng: random.Random, index: int, customer: Customer, now: datetime, gestures: list[Gesture], agents: list[Any]
) -> dict[str, Any]:
    """One closed complaint of the history (unsaved, under "complaint") and what became of it: its times, its loss,
    the gesture given if any."""
    cause, grade = _pick(rng, CAUSE_WEIGHTS), _pick(rng, GRADE_WEIGHTS)
    created = now - timedelta(days=rng.uniform(25, 400), hours=rng.uniform(0, 23))
    quick = rng.random() < 0.55
    resolved = created + (timedelta(hours=rng.uniform(2, 20)) if quick else timedelta(days=rng.uniform(3, 12)))
    loss = _money(rng.choice([0, 0, rng.uniform(10, 400)]))
    options = _fitting(gestures, cause, grade, loss)
    gesture = rng.choices(options[:3], weights=[0.5, 0.3, 0.2][: len(options[:3])])[0] if options and rng.random() < 0.58 else None
    plan: dict[str, Any] = {
        "customer": customer, "cause": cause, "grade": grade, "created": created, "resolved": resolved,
        "quick": quick, "loss": loss, "gesture": gesture,
        "fulfilled": resolved + timedelta(hours=rng.uniform(0, 6)) if gesture else None,
    }
    plan["complaint"] = Complaint(
        customer=customer,
        channel=rng.choice(["web", "email", "phone", "chat", "social", "in_person"]),
        source=SOURCE,
        external_id=f"H-{index + 1}",
        cause=cause,
        severity={"good": 1, "neutral": 2, "bad": 3, "ugly": rng.choice([4, 5])}[grade],
        monetary_loss=loss,
        subject=rng.choice(SUBJECTS[cause]),
        description="From the complaint history loaded for the demo.",
        status=Status.CLOSED,
        assignee=rng.choice(agents) if agents else None,
        tier={"ugly": rng.choice(["manager", "executive"]), "bad": rng.choice(["frontline", "lead"])}.get(grade, "frontline"),
        grade=grade,
        risk_score={"good": 10, "neutral": 30, "bad": 60, "ugly": 88}[grade],
        response_due_at=created + timedelta(hours=4),
        resolution_due_at=created + timedelta(days=5),
        first_response_at=created + timedelta(hours=rng.uniform(0.2, 3)),
        resolved_at=resolved,
        closed_at=resolved + timedelta(days=7),
    )
    return plan


def _history_aftermath(
    rng: random.Random, now: datetime, plans: list[dict[str, Any]], complaints: list[Complaint]
) -> None:
    """The fulfilled offers, and each customer's activity before the complaint and, if they came back, after it."""
    offers, activities = [], []
    serial = 0
    for plan, complaint in zip(plans, complaints, strict=True):
        customer, gesture = plan["customer"], plan["gesture"]
        if gesture is not None:
            offers.append(
                Offer(
                    complaint=complaint, gesture=gesture, cost=_gesture_cost(gesture, plan["loss"]),
                    status=Offer.Status.FULFILLED, fulfilled_at=plan["fulfilled"], suggested=True, suggestion_rank=1,
                    note="From the demo history.",
                )
            )
        anchor = plan["fulfilled"] or plan["resolved"]
        # Regular customers before the complaint: a purchase every few weeks.
        day = plan["created"] - timedelta(days=rng.uniform(200, 300))
        while day < plan["created"] - timedelta(days=2):
            serial += 1
            activities.append(_activity(rng, customer, day, serial))
            day += timedelta(days=rng.expovariate(1 / 35))
        if gesture is not None and gesture.resource_kind == "money_later":
            serial += 1  # using the voucher or credit is a redemption, not a return
            activities.append(_activity(rng, customer, anchor + timedelta(days=rng.uniform(1, 10)), serial, kind="gesture_redemption"))
        chance = _return_chance(
            recovered=gesture is not None, quick=plan["quick"], grade=plan["grade"], gesture=gesture, cause=plan["cause"]
        )
        first = _first_return_day(rng, chance)
        if first is not None:
            day = anchor + timedelta(days=first)
            while day < now:
                serial += 1
                activities.append(_activity(rng, customer, day, serial))
                day += timedelta(days=rng.expovariate(1 / 30))
    Offer.objects.bulk_create(offers)
    CustomerActivity.objects.bulk_create(activities, batch_size=1000)


def _activity(rng: random.Random, customer: Customer, when: datetime, serial: int, kind: str = "") -> CustomerActivity:
    kind = kind or rng.choices(["purchase", "visit", "booking", "renewal"], weights=[60, 20, 12, 8])[0]
    amount = Decimal("0.00") if kind in ("visit", "gesture_redemption") else _money(rng.lognormvariate(3.8, 0.6))
    return CustomerActivity(
        customer=customer, kind=kind, occurred_at=when, amount=amount, currency="GBP",
        source=SHOP, external_id=f"{SOURCE}-{serial}",
    )


def _never_complained(rng: random.Random, now: datetime) -> int:
    customers = Customer.objects.bulk_create(
        [
            Customer(name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", email=f"regular{index}@{SOURCE}.example")
            for index in range(NEVER_COMPLAINED)
        ]
    )
    CustomerReference.objects.bulk_create(
        [CustomerReference(customer=c, source=SOURCE, external_id=f"DR-{i}") for i, c in enumerate(customers)]
    )
    activities = []
    for index, customer in enumerate(customers):
        day = now - timedelta(days=rng.uniform(300, 430))
        stops = now - timedelta(days=rng.uniform(0, 500))  # some drift away, like any customer base
        while day < min(now, max(stops, now - timedelta(days=200))):
            activities.append(_activity(rng, customer, day, 10_000_000 + index * 1000 + len(activities)))
            day += timedelta(days=rng.expovariate(1 / 28))
    CustomerActivity.objects.bulk_create(activities, batch_size=1000)
    return len(customers)


def _history_events(complaints: list[Complaint]) -> None:
    """A 'logged' and a 'resolved' timeline event per history complaint, dated when they happened."""
    events = []
    for complaint in complaints:
        common = {"complaint": complaint, "actor_type": "system", "actor_label": "Demo history"}
        events.append(TimelineEvent(kind="logged", message=f"Complaint logged via {complaint.channel}", **common))
        events.append(TimelineEvent(kind="status_changed", message="Status in progress → resolved",
                                    data={"from": "in_progress", "to": "resolved"}, **common))
    TimelineEvent.objects.bulk_create(events, batch_size=1000)
    for event in events:
        event.created_at = event.complaint.created_at if event.kind == "logged" else event.complaint.resolved_at
    TimelineEvent.objects.bulk_update(events, ["created_at"], batch_size=1000)


def _backdate_outcome_events(complaints: list[Complaint]) -> None:
    anchors = dict(RecoveryOutcome.objects.filter(complaint__in=complaints).values_list("complaint_id", "anchor_at"))
    events = list(TimelineEvent.objects.filter(complaint__in=complaints, kind="outcome"))
    for event in events:
        event.created_at = anchors.get(event.complaint_id, event.created_at)
    TimelineEvent.objects.bulk_update(events, ["created_at"], batch_size=1000)
