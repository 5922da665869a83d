"""Complaint-page panel for outcomes, registered with tickets.panels when RecoveryConfig.ready() imports it.
(The subscription that opens outcomes is recovery/outcomes/receivers.py.)"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from recovery.outcomes import selectors
from tickets.panels import register_complaint_panel

PANEL_KEY = "outcome"
PANEL_ORDER = 60


def render_outcome_panel(request: Any, complaint: Any) -> str:
    """The outcome windows of this complaint, or what will happen once it is resolved."""
    outcome = selectors.outcome_for_complaint(complaint_id=complaint.pk)
    context = {
        "complaint": complaint,
        "outcome": outcome,
        "summary": selectors.outcome_summary(outcome) if outcome else None,
    }
    return render_to_string("recovery/_outcome_panel.html", context, request=request)


register_complaint_panel(PANEL_KEY, PANEL_ORDER, render_outcome_panel)
