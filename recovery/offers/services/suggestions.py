"""Suggestions shown for a complaint, and the log of what was shown (what the learning evaluates)."""


from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from recovery.models import SuggestionLog
from recovery.offers import selectors
from recovery.offers.services.common import SUGGESTION_LOG_EVERY
from tickets.models import Complaint

# --- suggestions ----------------------------------------------------------------------------------


def complaint_suggest(
    *, complaint: Complaint, shown_to: Any | None = None, now: datetime | None = None
) -> selectors.SuggestionView:
    """Rank the playbook for a complaint and log what is shown (see `suggestions_log`)."""
    now = now or timezone.now()
    view = selectors.complaint_suggestions(complaint=complaint, now=now)
    suggestions_log(view=view, shown_to=shown_to, now=now)
    return view


def suggestions_log(*, view: selectors.SuggestionView, shown_to: Any | None, now: datetime) -> bool:
    """Log the top suggestions once per complaint per hour — sooner only when what is shown changed (a new
    grade, an offer made) — so the table stays small and still says what agents saw. True when logged."""
    top = view.top
    if not top:
        return False
    last = list(
        SuggestionLog.objects.filter(complaint=view.complaint)
        .order_by("-created_at", "-id")
        .values_list("gesture_id", "rank", "created_at")[: len(top)]
    )
    shown = sorted((s.gesture_id, s.rank) for s in top)
    if last and last[0][2] > now - SUGGESTION_LOG_EVERY and sorted((g, r) for g, r, _ in last) == shown:
        return False
    user = shown_to if shown_to is not None and getattr(shown_to, "pk", None) else None
    SuggestionLog.objects.bulk_create(
        SuggestionLog(
            complaint=view.complaint,
            gesture_id=s.gesture_id,
            rank=s.rank,
            score=s.score,
            reasons=list(s.reasons),
            shown_to=user,
            propensity=s.propensity if view.randomised else None,
            randomised=view.randomised,
        )
        for s in top
    )
    return True
