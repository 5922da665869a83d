"""The "Why escalated" panel on the complaint page: grade, score, reasons, the escalation and what can be
done with it, and the trace of the latest assessment (which rules matched, on which conditions, what they did)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from recovery.escalation import selectors
from recovery.escalation.services import escalation_can_handle, tier_label
from tickets.actors import ActorRef
from tickets.models import Complaint
from tickets.panels import register_complaint_panel
from tickets.permissions import user_role

TRIGGERS = {
    "logged": "when it was logged",
    "changed": "after a change",
    "sweep": "by the SLA clock",
    "rules_changed": "after the rules changed",
    "manual": "on request",
    "demo": "demo data",
}


def render_panel(request: HttpRequest, complaint: Complaint) -> str | None:
    """Three queries: the latest assessment, the latest escalation (with who handled it)."""
    if user_role(request.user) is None:
        return None
    assessment = selectors.assessment_latest(complaint=complaint)
    escalation = selectors.escalation_latest_for(complaint=complaint)
    traces = assessment.traces if assessment else []
    context = {
        "complaint": complaint,
        "assessment": assessment,
        "escalation": escalation,
        "escalation_overdue": bool(
            escalation and escalation.status == "open" and escalation.ack_due_at and escalation.ack_due_at <= timezone.now()
        ),
        "can_handle": bool(escalation and escalation_can_handle(actor=ActorRef.from_request(request), escalation=escalation)),
        "tier_label": tier_label(complaint.tier),
        "traces": traces,
        "matched_count": sum(1 for t in traces if t.get("matched")),
        "applied": (assessment.decision or {}).get("applied", {}) if assessment else {},
        "trigger_label": TRIGGERS.get(assessment.trigger, assessment.trigger) if assessment else "",
    }
    return render_to_string("recovery/_escalation_panel.html", context, request=request)


register_complaint_panel("why_escalated", 10, render_panel)
