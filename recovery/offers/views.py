"""Browser pages of the playbook, offers, approvals and spend. Thin: check the role, call a selector or one
service, redirect with a message.

- /playbook/: everyone with a role reads the playbook (its scripts help agents); managers and executives edit
  gestures; executives set the approval limits.
- /approvals/: the approver's inbox and the landing page for executives; leads and managers see the requests
  at their tier (and, on request, the tiers below, which they may decide too).
- /spend/: the monthly report, for managers and executives; /spend/csv/ downloads its months as CSV.
- The offer actions are POST targets of the complaint page's panel (recovery/offers/panels.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from recovery import formatting
from recovery.models import ApprovalRequest, Gesture, Offer
from recovery.offers import routing, selectors, services
from recovery.offers.forms import ApprovalLimitsForm, DecisionForm, DeclineForm, FulfilForm, GestureForm, OfferForm
from recovery.vocabulary import TIERS
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.models import Cause, Role, Tier
from tickets.permissions import role_at_least, role_required, user_tier
from tickets.selectors import complaint_get

# See recovery/escalation/views.py: 50 rows, the rest appear as these are decided.
INBOX_LIMIT = 50
SPEND_MONTHS = 12
SHORT_CAUSE = {
    Cause.STAFF_CONDUCT: "Staff conduct",
    Cause.PRODUCT_QUALITY: "Product quality",
    Cause.SERVICE_DELAY: "Service delay",
    Cause.FAILED_FIX: "Failed fix",
    Cause.PRICING: "Pricing",
    Cause.IGNORED: "Ignored",
    Cause.OTHER: "Other",
}



def complaint_url(reference: str) -> str:
    try:
        return reverse("tickets:detail", args=[reference])
    except NoReverseMatch:
        return f"/complaints/{reference}/"


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to where the form was (the complaint page), never to another site."""
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


def _nav(request: HttpRequest) -> dict[str, Any]:
    return {
        "nav_lead": role_at_least(request.user, Role.LEAD),
        "nav_manager": role_at_least(request.user, Role.MANAGER),
        "nav_executive": role_at_least(request.user, Role.EXECUTIVE),
    }


def _form_errors(form: Any) -> str:
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field is not None else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)


# --- offers (POST targets of the complaint panel) -------------------------------------------------


@role_required(Role.AGENT)
@require_POST
def offer_create(request: HttpRequest, reference: str) -> HttpResponse:
    complaint = complaint_get(reference=reference)
    if complaint is None:
        raise Http404(f"No complaint with reference {reference}.")
    back = f"{complaint_url(complaint.reference)}#offers"
    form = OfferForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The offer was not made. {_form_errors(form)}")
        return _back(request, back)
    try:
        offer = services.offer_create(
            complaint=complaint,
            gesture=form.cleaned_data["gesture"],
            cost=form.cleaned_data["cost"],
            note=form.cleaned_data["note"],
            actor=ActorRef.from_request(request),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(request, back)
    what = f"“{offer.gesture.title}” ({formatting.money(offer.cost, offer.currency)})"
    if offer.status == Offer.Status.APPROVED:
        messages.success(request, f"Offered {what}: approved at once. Give it to the customer, then mark it fulfilled.")
    else:
        tier = offer.approval_requests.first().required_tier
        messages.success(
            request, f"Offered {what}: waiting for {routing.TIER_ONE[tier]} to approve it. They have been emailed."
        )
    return _back(request, back)


def _offer_move(
    request: HttpRequest, pk: int, form_class: type, move: Callable[..., Any], done: Callable[[Offer, dict], str]
) -> HttpResponse:
    """The panel's buttons for an offer's last moves: check the form, call the service, say what happened, and go
    back to the complaint page either way. htmx follows the redirect with its HX-Request header, so the page
    answers with its in-place partial (the complaint, its timeline, the messages)."""
    offer = get_object_or_404(Offer.objects.select_related("complaint", "gesture"), pk=pk)
    back = f"{complaint_url(offer.complaint.reference)}#offers"
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, back)
    try:
        move(offer=offer, actor=ActorRef.from_request(request), **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(request, back)
    messages.success(request, done(offer, form.cleaned_data))
    return _back(request, back)


@role_required(Role.AGENT)
@require_POST
def offer_fulfil(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_move(
        request,
        pk,
        FulfilForm,
        services.offer_fulfil,
        lambda offer, data: (
            f"“{offer.gesture.title}” marked fulfilled"
            + (" and the complaint resolved." if data["resolve_complaint"] else ".")
        ),
    )


@role_required(Role.AGENT)
@require_POST
def offer_decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_move(
        request,
        pk,
        DeclineForm,
        services.offer_decline,
        lambda offer, data: f"Recorded that the customer declined “{offer.gesture.title}”.",
    )


@role_required(Role.AGENT)
@require_POST
def offer_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_move(
        request,
        pk,
        DeclineForm,  # the same single optional note
        services.offer_withdraw,
        lambda offer, data: f"Withdrew “{offer.gesture.title}”. It can be offered again if the customer needs it.",
    )


# --- approvals ------------------------------------------------------------------------------------


def _inbox_rows(rows: list[ApprovalRequest], user: Any, limits: dict, now: datetime) -> list[dict[str, Any]]:
    tier = user_tier(user)
    out = []
    for approval in rows:
        offer = approval.offer
        limit = limits.get(tier)
        due = approval.due_at
        history = [r for r in getattr(offer, "history", []) if r.pk != approval.pk]
        out.append(
            {
                "approval": approval,
                "offer": offer,
                "complaint": offer.complaint,
                "customer": offer.complaint.customer,
                "own": offer.proposed_by_id == user.pk,
                "overdue": bool(due and due <= now and approval.status == ApprovalRequest.Status.PENDING),
                "next_tier": TIERS[TIERS.index(approval.required_tier) + 1]
                if approval.required_tier != Tier.EXECUTIVE
                else None,
                "limit": limit,
                "history": history,
                "changed_amount": offer.offered_cost is not None and offer.offered_cost != offer.cost,
                "complaint_url": complaint_url(offer.complaint.reference),
                "cost": formatting.money(offer.cost, offer.currency),
                "offered_cost": formatting.money(offer.offered_cost, offer.currency) if offer.offered_cost else "",
                "approved_amount": formatting.money(approval.approved_amount, offer.currency)
                if approval.approved_amount is not None
                else "",
                "loss": formatting.money(offer.complaint.monetary_loss, offer.complaint.currency),
                "ltv": formatting.money(offer.complaint.customer.lifetime_value, offer.currency),
            }
        )
    return out


@role_required(Role.LEAD)
def approvals(request: HttpRequest) -> HttpResponse:
    """Requests waiting at my tier, longest waiting first; `?below=1` adds the tiers below; `?show=decided` the
    latest decisions. Fixed number of queries, whatever the number of rows."""
    tier = user_tier(request.user)
    show = "decided" if request.GET.get("show") == "decided" else "pending"
    below = request.GET.get("below") == "1"
    now = timezone.now()
    rows = list(
        selectors.approval_inbox(selectors.InboxView(tier=tier, show=show, below=below), now=now)[: INBOX_LIMIT + 1]
    )
    more = len(rows) > INBOX_LIMIT
    limits = selectors.approval_limits()
    context = {
        **_nav(request),
        "rows": _inbox_rows(rows[:INBOX_LIMIT], request.user, limits, now),
        "more": more,
        "show": show,
        "below": below,
        "tier": tier,
        "tier_label": Tier(tier).label,
        "tier_people": routing.TIER_PEOPLE[tier],
        "my_limit": limits.get(tier),
        "my_limit_text": formatting.money(limits.get(tier)),
        "now": now,
        "remind_hours": formatting.hours_text(settings.APPROVAL_REMIND_AFTER_HOURS),
        "escalate_hours": formatting.hours_text(settings.APPROVAL_ESCALATE_AFTER_HOURS),
    }
    return render(request, "recovery/approvals_inbox.html", context)


@role_required(Role.LEAD)
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(ApprovalRequest.objects.select_related("offer__gesture", "offer__complaint"), pk=pk)
    back = reverse("recovery:approvals")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was decided. {_form_errors(form)}")
        return redirect(f"{back}#approval-{pk}")
    decision = form.cleaned_data["decision"]
    amount = form.cleaned_data["amount"] if decision == "approve" else None
    try:
        decided = services.approval_decide(
            approval=approval,
            decision=decision,
            amount=amount,
            note=form.cleaned_data["note"],
            actor=ActorRef.from_request(request),
        )
    except DomainError as exc:
        messages.error(request, f"{approval.offer.complaint.reference}: {exc.message}")
        return redirect(f"{back}#approval-{pk}")
    offer = approval.offer
    if decided.status == ApprovalRequest.Status.APPROVED:
        messages.success(
            request,
            f"Approved “{offer.gesture.title}” on {offer.complaint.reference} at "
            f"{formatting.money(decided.approved_amount, offer.currency)}. The agent has been told.",
        )
    else:
        messages.success(
            request, f"Rejected “{offer.gesture.title}” on {offer.complaint.reference}. The agent has been told."
        )
    return redirect(back)


# --- playbook -------------------------------------------------------------------------------------


@role_required(Role.AGENT)
def playbook(request: HttpRequest) -> HttpResponse:
    S = Offer.Status
    gestures = Gesture.objects.annotate(
        offered=Count("offers"),
        approved=Count("offers", filter=Q(offers__status__in=[S.APPROVED, S.FULFILLED, S.DECLINED])),
        fulfilled=Count("offers", filter=Q(offers__status=S.FULFILLED)),
    ).order_by("-active", "title")
    show = request.GET.get("show", "active")
    if show == "active":
        gestures = gestures.filter(active=True)
    elif show == "inactive":
        gestures = gestures.filter(active=False)
    cause = request.GET.get("cause", "")
    rows = [g for g in gestures if not cause or cause in (g.causes or [])]
    for gesture in rows:
        fits = set(gesture.causes or [])
        gesture.cause_labels = (
            ["Every cause"] if fits >= set(SHORT_CAUSE) else [SHORT_CAUSE.get(c, c) for c in gesture.causes or []]
        )
    limits = selectors.approval_limits()
    can_limits = role_at_least(request.user, Role.EXECUTIVE)
    context = {
        **_nav(request),
        "gestures": rows,
        "show": show,
        "cause": cause,
        "causes": Cause.choices,
        "can_edit": role_at_least(request.user, Role.MANAGER),
        "limits": [(value, label, limits.get(value)) for value, label in Tier.choices],
        "limits_form": ApprovalLimitsForm(limits=limits) if can_limits else None,
    }
    return render(request, "recovery/playbook_list.html", context)


def _gesture_page(request: HttpRequest, gesture: Gesture | None) -> HttpResponse:
    form = GestureForm(request.POST or None, instance=gesture)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.Meta.fields if name in form.cleaned_data}
        if gesture is not None:
            data.pop("code", None)
        try:
            saved = services.gesture_save(
                gesture=Gesture.objects.get(pk=gesture.pk) if gesture else None,
                data=data,
                actor=ActorRef.from_request(request),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Saved “{saved.title}”.")
            return redirect("recovery:playbook")
    return render(
        request,
        "recovery/playbook_form.html",
        {**_nav(request), "form": form, "gesture": gesture},
        status=400 if request.method == "POST" else 200,
    )


@role_required(Role.MANAGER)
def playbook_new(request: HttpRequest) -> HttpResponse:
    return _gesture_page(request, None)


@role_required(Role.MANAGER)
def playbook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _gesture_page(request, get_object_or_404(Gesture, pk=pk))


@role_required(Role.MANAGER)
@require_POST
def playbook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    gesture = get_object_or_404(Gesture, pk=pk)
    active = request.POST.get("active") == "1"
    services.gesture_set_active(gesture=gesture, active=active, actor=ActorRef.from_request(request))
    state = (
        "switched on: it can be suggested and offered again"
        if active
        else "switched off: it is no longer suggested or offered"
    )
    messages.success(request, f"“{gesture.title}” {state}.")
    return redirect("recovery:playbook")


@role_required(Role.EXECUTIVE)
@require_POST
def approval_limits(request: HttpRequest) -> HttpResponse:
    form = ApprovalLimitsForm(request.POST, limits=selectors.approval_limits())
    if not form.is_valid():
        messages.error(request, f"The limits were not changed. {_form_errors(form)}")
        return redirect(f"{reverse('recovery:playbook')}#limits")
    try:
        services.approval_limits_set(limits=form.cleaned_data, actor=ActorRef.from_request(request))
    except DomainError as exc:
        messages.error(request, f"The limits were not changed. {exc.message}")
    else:
        messages.success(request, "Approval limits saved. New offers are routed with them.")
    return redirect(f"{reverse('recovery:playbook')}#limits")


# --- spend ----------------------------------------------------------------------------------------


@role_required(Role.MANAGER)
def spend(request: HttpRequest) -> HttpResponse:
    """Twelve months of offers and cost, and one month (default: this one) by tier, cause and gesture."""
    now = timezone.now()
    month = now
    raw = request.GET.get("month", "")
    if raw:
        try:
            month = timezone.make_aware(datetime.strptime(raw, "%Y-%m"))
        except ValueError:
            messages.error(request, "Give the month as YYYY-MM; showing this month.")
    rows = selectors.spend_by_month(months=SPEND_MONTHS, now=now)
    breakdown = selectors.spend_breakdown(month=month)
    tier_labels, cause_labels = dict(Tier.choices), dict(Cause.choices)
    for row in breakdown["by_tier"]:
        row["label"] = tier_labels.get(row["approved_tier"], "Unknown")
    for row in breakdown["by_cause"]:
        row["label"] = cause_labels.get(row["complaint__cause"], row["complaint__cause"])
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(
            row["currency"],
            {"currency": row["currency"], "offered": 0, "approved": 0, "committed_cost": 0, "fulfilled_cost": 0},
        )
        for key in ("offered", "approved", "committed_cost", "fulfilled_cost"):
            total[key] += row[key]
    context = {
        **_nav(request),
        "rows": rows,
        "totals": list(totals.values()),
        "month": selectors.month_start(month),
        "by_tier": breakdown["by_tier"],
        "by_cause": breakdown["by_cause"],
        "by_gesture": breakdown["by_gesture"],
    }
    return render(request, "recovery/spend_report.html", context)


SPEND_CSV_COLUMNS = [
    ("Month", "month"),
    ("Currency", "currency"),
    ("Offered", "offered"),
    ("Approved", "approved"),
    ("Rejected", "rejected"),
    ("Waiting", "waiting"),
    ("Fulfilled", "fulfilled"),
    ("Declined", "declined"),
    ("Withdrawn", "withdrawn"),
    ("Committed cost", "committed_cost"),
    ("Fulfilled cost", "fulfilled_cost"),
    ("Waiting cost", "waiting_cost"),
]


@role_required(Role.MANAGER)
def spend_csv(request: HttpRequest) -> HttpResponse:
    """The months of the spend page as CSV, from the same single aggregate query: one row per month and currency,
    plain numbers (amounts with two decimals) so a spreadsheet can sum them."""
    now = timezone.now()
    first, last = selectors.spend_window(months=SPEND_MONTHS, now=now)
    filename = f"cx-recovery-spend-{first:%Y-%m}-to-{last:%Y-%m}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(as_attachment=True, filename=filename)},
    )
    writer = csv.writer(response)
    writer.writerow([header for header, _ in SPEND_CSV_COLUMNS])
    for row in selectors.spend_by_month(months=SPEND_MONTHS, now=now):
        cells = {**row, "month": f"{row['month']:%Y-%m}"}
        writer.writerow([f"{cells[key]:.2f}" if key.endswith("_cost") else cells[key] for _, key in SPEND_CSV_COLUMNS])
    return response


urlpatterns = [
    path("playbook/", playbook, name="playbook"),
    path("playbook/new/", playbook_new, name="playbook_new"),
    path("playbook/<int:pk>/", playbook_edit, name="playbook_edit"),
    path("playbook/<int:pk>/toggle/", playbook_toggle, name="playbook_toggle"),
    path("playbook/limits/", approval_limits, name="approval_limits"),
    path("approvals/", approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", approval_decide, name="approval_decide"),
    path("offers/new/<str:reference>/", offer_create, name="offer_create"),
    path("offers/<int:pk>/fulfil/", offer_fulfil, name="offer_fulfil"),
    path("offers/<int:pk>/decline/", offer_decline, name="offer_decline"),
    path("offers/<int:pk>/withdraw/", offer_withdraw, name="offer_withdraw"),
    path("spend/", spend, name="spend"),
    path("spend/csv/", spend_csv, name="spend_csv"),
]
