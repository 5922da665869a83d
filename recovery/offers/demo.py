"""Demo data for offers, loaded once by `manage.py seed_recovery_demo` (called by `make run`).

Two costly gestures wait in the executive's inbox on ugly complaints, one waits for a manager, and a few
gestures were given and fulfilled over the past months, so the complaint pages, /approvals/ and /spend/ have
something to show. Everything goes through the services, so the timelines read as if people did it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from recovery.models import Gesture, Offer
from recovery.offers import services
from tickets.actors import ActorRef
from tickets.models import OPEN_STATUSES, Complaint, Status

PENDING = [
    # who offers, complaint subject (from tickets' seed_demo), gesture code, note
    ("agent", "Flight rebooking left family stranded overnight", "exec_call_six_months_free",
     "Family of four, 14 hours at the airport and posting about it. Only a call from the top will land."),
    ("manager", "Roof leak 'fixed' four times, ceiling now collapsed", "refund_150_percent",
     "Four failed visits and a collapsed ceiling; the customer has a lawyer. Above my limit."),
    ("lead", "Boiler repaired three times, still no hot water", "upgrade_replacement",
     "Third repair this month; a new boiler beats a fourth visit."),
]
FULFILLED = [
    # who offers, complaint subject, gesture code, days ago, what was done
    ("agent", "Curt reply to a simple question", "handwritten_note", 12, "Posted a handwritten note with my direct number."),
    ("agent2", "Promo code not applied at checkout", "goodwill_voucher", 18, "Voucher added to the account."),
    ("agent", "Refund took 12 days instead of 5", "named_case_owner", 15, "Called back at the agreed times."),
    ("lead", "Shirt colour not as pictured", "express_replacement", 40, "Sent the right colour by express."),
    ("lead", "App sync bug returned after update", "plan_upgrade_three_months", 55, "Three months on the higher plan."),
]


def _complaint(subject: str) -> Complaint | None:
    return Complaint.objects.select_related("customer").filter(subject=subject).order_by("pk").first()


def seed(stdout: Any) -> None:
    """Add this area's demo data; called after tickets' seed_demo; must do nothing the second time."""
    if Offer.objects.exists():
        stdout.write("Offers demo: already loaded.")
        return
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["agent", "agent2", "lead", "manager", "executive"])}
    gestures = {g.code: g for g in Gesture.objects.filter(active=True)}
    if "agent" not in users or not gestures:
        stdout.write("Offers demo: skipped (run seed_demo first; the starter playbook must be migrated).")
        return
    made = 0
    now = timezone.now()
    for username, subject, code, days, done in FULFILLED:
        complaint, gesture, user = _complaint(subject), gestures.get(code), users.get(username)
        if complaint is None or gesture is None or user is None or complaint.status == Status.CLOSED:
            continue
        actor = ActorRef(user=user)
        offer = services.offer_create(complaint=complaint, gesture=gesture, actor=actor)
        if offer.status != Offer.Status.APPROVED:
            continue
        services.offer_fulfil(offer=offer, actor=actor, note=done, resolve_complaint=complaint.status in OPEN_STATUSES)
        # Spread them over past weeks so the spend report has more than one month.
        when = now - timedelta(days=days)
        Offer.objects.filter(pk=offer.pk).update(created_at=when, fulfilled_at=when + timedelta(hours=3))
        made += 1
    # One approved by a team lead at a lower amount than asked, then fulfilled.
    complaint, gesture = _complaint("Charged twice for one subscription"), gestures.get("refund_150_percent")
    if complaint is not None and gesture is not None and "agent2" in users and "lead" in users and complaint.monetary_loss:
        offer = services.offer_create(
            complaint=complaint, gesture=gesture, actor=ActorRef(user=users["agent2"]),
            note="Double charge; the customer had to chase us twice.",
        )
        if offer.status == Offer.Status.PENDING_APPROVAL and "manager" in users:
            approval = offer.approval_requests.get(status="pending")
            approver = users["manager"] if approval.required_tier == "manager" else users.get("executive")
            services.approval_decide(
                approval=approval, decision="approve", actor=ActorRef(user=approver),
                amount=(complaint.monetary_loss * Decimal("1.2")).quantize(Decimal("0.01")),
                note="Refund the double charge plus a fifth; 150% is more than this needs.",
            )
            services.offer_fulfil(offer=offer, actor=ActorRef(user=users["agent2"]), note="Refunded to the card.")
            made += 1
    for username, subject, code, note in PENDING:
        complaint, gesture, user = _complaint(subject), gestures.get(code), users.get(username)
        if complaint is None or gesture is None or user is None or complaint.status == Status.CLOSED:
            continue
        services.offer_create(complaint=complaint, gesture=gesture, actor=ActorRef(user=user), note=note)
        made += 1
    stdout.write(f"Offers demo: {made} offers, some waiting in the approvals inbox.")
