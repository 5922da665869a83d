"""The "Make it right" panel on the complaint page (registered with tickets.panels): the top 3 suggested
gestures with their reasons and an Offer button, an offer of any other gesture at a chosen cost, and the
complaint's offers with their approval state and the fulfil / decline actions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from recovery import formatting
from recovery.models import OFFER_TRANSITIONS
from recovery.offers import routing, selectors, services
from tickets.actors import ActorRef
from tickets.models import Complaint, Status
from tickets.panels import register_complaint_panel
from tickets.permissions import user_tier

PANEL_KEY = "offers"
PANEL_ORDER = 30


def _suggestions(
    request: HttpRequest, complaint: Complaint, tier: str, limits: dict[str, Any]
) -> tuple[list[dict[str, Any]], Any]:
    view = services.complaint_suggest(complaint=complaint, shown_to=ActorRef.from_request(request).user)
    rule_tier = selectors.rule_approval_tier(complaint_id=complaint.pk)
    rows = []
    for suggestion in view.top:
        spec = view.specs[suggestion.gesture_code]
        route = routing.approval_route(
            cost=suggestion.cost,
            offerer_tier=tier,
            gesture_tier=spec.approval_tier,
            rule_tier=rule_tier,
            limits=limits,
            currency=complaint.currency,
        )
        rows.append(
            {
                "suggestion": suggestion,
                "spec": spec,
                "script": view.scripts.get(suggestion.gesture_code, ""),
                "cost": formatting.money(suggestion.cost, complaint.currency),
                "needs": None if route.auto else routing.TIER_ONE[route.required_tier],
                "route_reasons": route.reasons,
            }
        )
    return rows, view


def _offers(complaint: Complaint) -> list[dict[str, Any]]:
    rows = []
    for offer in selectors.complaint_offers(complaint=complaint):
        requests = list(offer.approval_requests.all())  # newest first
        allowed = OFFER_TRANSITIONS[offer.status]
        rows.append(
            {
                "offer": offer,
                "cost": formatting.money(offer.cost, offer.currency),
                "offered_cost": formatting.money(offer.offered_cost, offer.currency)
                if offer.offered_cost is not None and offer.offered_cost != offer.cost
                else None,
                "approval": requests[0] if requests else None,
                "waiting_for": routing.TIER_ONE[requests[0].required_tier]
                if requests and requests[0].status == "pending"
                else None,
                "can_fulfil": "fulfilled" in allowed,
                "can_decline": "declined" in allowed,
            }
        )
    return rows


def render_offers_panel(request: HttpRequest, complaint: Complaint) -> str | None:
    """About ten queries: the ranking (playbook, past gestures, learning, open offers), its log, the limits and
    rules, the offers with their approvals, and the gestures for the 'another gesture' form."""
    tier = user_tier(request.user)
    if tier is None:
        return None
    closed = complaint.status == Status.CLOSED
    limits = selectors.approval_limits()
    suggestions, view = _suggestions(request, complaint, tier, limits) if not closed else ([], None)
    context = {
        "complaint": complaint,
        "closed": closed,
        "suggestions": suggestions,
        "graded": view.graded if view else True,
        "assumed_grade": selectors.UNGRADED_AS,
        "offers": _offers(complaint),
        "gestures": list(selectors.gestures_offerable()) if not closed else [],
        "can_resolve": complaint.status in (Status.NEW, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
        "my_limit": formatting.money(limits.get(tier), complaint.currency),
        "no_limit": limits.get(tier) is None,
        # Not request.path: the panel is also drawn in htmx responses to the page's own POSTs.
        "next": f"{reverse('tickets:detail', args=[complaint.reference])}#offers",
    }
    return render_to_string("recovery/_offers_panel.html", context, request=request)


register_complaint_panel(PANEL_KEY, PANEL_ORDER, render_offers_panel)
