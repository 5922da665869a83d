"""The "Make it right" panel on the complaint page (registered with tickets.panels): the top 3 suggested
gestures with their reasons and an Offer button, an offer of any other gesture at a chosen cost, and the
complaint's offers with their approval state and the fulfil / decline actions."""

from __future__ import annotations

from decimal import Decimal
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
    request: HttpRequest, complaint: Complaint, tier: str, limits: dict[str, Any], rule_tier: str | None
) -> tuple[list[dict[str, Any]], Any]:
    view = services.complaint_suggest(complaint=complaint, shown_to=ActorRef.from_request(request).user)
    def route_of(suggestion: Any) -> Any:
        return routing.approval_route(
            cost=suggestion.cost,
            offerer_tier=tier,
            gesture_tier=view.specs[suggestion.gesture_code].approval_tier,
            rule_tier=rule_tier,
            limits=limits,
            currency=complaint.currency,
        )

    shown = list(view.top)
    routes = {s.gesture_code: route_of(s) for s in shown}
    if shown and not any(r.auto for r in routes.values()):
        # None of the top ones is within the agent's own limit: bring the best one that is to the front,
        # so "up to £50 without asking" is something the agent can act on at once.
        for suggestion in view.ranked[len(shown):]:
            route = route_of(suggestion)
            if route.auto:
                # It comes first, beside the top ones (which stay: the playbook's best for the case is still shown).
                shown.insert(0, suggestion)
                routes[suggestion.gesture_code] = route
                break
    else:
        # Within the shown ones, the best that needs no approval comes first.
        shown.sort(key=lambda s: not routes[s.gesture_code].auto)
    rows = []
    for suggestion in shown:
        spec = view.specs[suggestion.gesture_code]
        route = routes[suggestion.gesture_code]
        rows.append(
            {
                "suggestion": suggestion,
                "spec": spec,
                "script": view.scripts.get(suggestion.gesture_code, ""),
                "cost": formatting.money(suggestion.cost, complaint.currency),
                "needs": None if route.auto else routing.TIER_ONE[route.required_tier],
                "within_limit": route.auto,
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


def _gesture_groups(
    complaint: Complaint, tier: str, limits: dict[str, Any], rule_tier: str | None
) -> list[dict[str, Any]]:
    """The 'another gesture' dropdown: gestures within the agent's own limit first, then those needing approval,
    each cheapest first (a percentage of the loss is priced on this complaint's loss)."""
    loss = complaint.monetary_loss or Decimal("0")
    free, approval = [], []
    for gesture in selectors.gestures_offerable():
        cost = selectors.gesture_spec(gesture).effective_cost(loss)
        route = routing.approval_route(
            cost=cost, offerer_tier=tier, gesture_tier=gesture.approval_tier, rule_tier=rule_tier,
            limits=limits, currency=complaint.currency,
        )
        item = {"gesture": gesture, "cost": cost, "cost_text": formatting.money(cost, complaint.currency)}
        if not route.auto:
            item["needs"] = routing.TIER_ONE[route.required_tier]
        (free if route.auto else approval).append(item)
    groups = []
    for label, items in (("No approval needed", free), ("Needs approval", approval)):
        if items:
            groups.append({"label": label, "items": sorted(items, key=lambda i: (i["cost"], i["gesture"].title))})
    return groups


def render_offers_panel(request: HttpRequest, complaint: Complaint) -> str | None:
    """About ten queries: the ranking (playbook, past gestures, learning, open offers), its log, the limits and
    rules, the offers with their approvals, and the gestures for the 'another gesture' form."""
    tier = user_tier(request.user)
    if tier is None:
        return None
    closed = complaint.status == Status.CLOSED
    limits = selectors.approval_limits()
    rule_tier = selectors.rule_approval_tier(complaint_id=complaint.pk) if not closed else None
    suggestions, view = _suggestions(request, complaint, tier, limits, rule_tier) if not closed else ([], None)
    context = {
        "complaint": complaint,
        "closed": closed,
        "suggestions": suggestions,
        "graded": view.graded if view else True,
        "assumed_grade": selectors.UNGRADED_AS,
        "offers": _offers(complaint),
        "gesture_groups": _gesture_groups(complaint, tier, limits, rule_tier) if not closed else [],
        "within_limit_count": sum(1 for row in suggestions if row["within_limit"]),
        "can_resolve": complaint.status in (Status.NEW, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
        "my_limit": formatting.money(limits.get(tier), complaint.currency),
        "no_limit": limits.get(tier) is None,
        # Not request.path: the panel is also drawn in htmx responses to the page's own POSTs.
        "next": f"{reverse('tickets:detail', args=[complaint.reference])}#offers",
    }
    return render_to_string("recovery/_offers_panel.html", context, request=request)


register_complaint_panel(PANEL_KEY, PANEL_ORDER, render_offers_panel)
