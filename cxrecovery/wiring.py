"""Small adapters that connect the apps where a lower app must not import a higher one (settings point here).

Kept apart from both apps on purpose: tickets names what it needs in settings, recovery knows nothing of it.
"""

from __future__ import annotations

from typing import Any


def gesture_script(complaint: Any) -> str:
    """The playbook's "script for you" of the gesture offered on this complaint (the latest live offer), else ""."""
    from recovery.models import Offer

    live = [Offer.Status.PROPOSED, Offer.Status.PENDING_APPROVAL, Offer.Status.APPROVED, Offer.Status.FULFILLED]
    offer = (
        Offer.objects.filter(complaint_id=complaint.pk, status__in=live)
        .select_related("gesture")
        .order_by("-created_at", "-id")
        .first()
    )
    return offer.gesture.script.strip() if offer else ""
