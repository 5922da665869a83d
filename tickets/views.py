"""The agent's desk in the browser: the queue, logging a complaint, and the complaint page with its actions.

Thin: every view checks the role on the server, then calls one selector or one service. Actions answer an htmx
request with the re-rendered part of the page and a plain form POST with a redirect (the fallback without
JavaScript). Domain errors become messages beside the action, never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.filters import ComplaintFilter
from tickets.forms import AssignForm, CommentForm, ComplaintLogForm, QueueFilterForm, TransitionForm
from tickets.models import OPEN_STATUSES, Comment, Complaint, Status
from tickets.panels import complaint_panels
from tickets.permissions import user_role

NO_ROLE_MESSAGE = (
    "You are signed in, but your account has no support role yet. "
    "Ask an administrator to add you to the agent, lead, manager or executive group."
)
TIMELINE_LIMIT = 200
# Queue columns: (key, heading, sort name or None, the direction a first click sorts in).
QUEUE_COLUMNS = [
    ("reference", "Complaint", None, ""),
    ("status", "Status", None, ""),
    ("grade", "Grade · risk", "risk", "-"),
    ("severity", "Severity", "severity", "-"),
    ("assignee", "Assignee", None, ""),
    ("due", "Response due", "due", ""),
    ("created", "Logged", "created", "-"),
]
# Filters folded under "More filters" (opened when one of them is in use).
MORE_FILTERS = ("cause", "grade", "severity_min", "escalated", "created_after", "created_before", "sort")
TRANSITION_LABELS = {
    Status.IN_PROGRESS: "Start work",
    Status.WAITING_ON_CUSTOMER: "Waiting on customer",
    Status.RESOLVED: "Resolve",
    Status.CLOSED: "Close",
}


def desk_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-out people go to sign-in; signed-in people without a support role get a clear 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.htmx:
                # A swapped-in sign-in form would land inside the page; send the whole window there.
                return HttpResponseClientRedirect(redirect_to_login(request.htmx.current_url_abs_path or "/").url)
            return redirect_to_login(request.get_full_path())
        if user_role(request.user) is None:
            raise PermissionDenied(NO_ROLE_MESSAGE)
        return view(request, *args, **kwargs)

    return wrapper


# --- queue -----------------------------------------------------------------------------------------


def _sort_headers(request: HttpRequest, sort: str) -> list[dict[str, Any]]:
    current = sort.lstrip("-")
    headers = []
    for key, label, sort_name, first_direction in QUEUE_COLUMNS:
        header: dict[str, Any] = {"key": key, "label": label, "sortable": sort_name is not None}
        if sort_name:
            active = current == sort_name
            descending = sort.startswith("-")
            if active:
                header["aria_sort"] = "descending" if descending else "ascending"
                header["next_sort"] = sort_name if descending else f"-{sort_name}"
            else:
                header["next_sort"] = f"{first_direction}{sort_name}"
        headers.append(header)
    return headers


def _capped(count: int, *, capped: bool | None = None) -> str | int:
    """A count as the queue shows it: "10000+" when counting stopped at the cap."""
    return f"{count}+" if (count >= selectors.STATUS_COUNT_CAP if capped is None else capped) else count


@desk_view
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The queue: filters in the URL (bookmarkable), counts per open status, one keyset page."""
    page = selectors.complaint_queue_page(
        params=request.GET, user=request.user, sort=request.GET.get("sort", ""), cursor=request.GET.get("cursor")
    )
    # One reverse() for the page instead of one per row.
    detail_url = reverse("tickets:detail", kwargs={"reference": "CX-0"})
    for complaint in page.complaints:
        complaint.detail_url = detail_url.replace("CX-0", complaint.reference)
    counts = selectors.complaint_open_status_counts()
    staff = list(selectors.staff_assignable())
    status_filter = request.GET.get("status", "")
    context = {
        "page": page,
        "complaints": page.complaints,
        "headers": _sort_headers(request, page.sort),
        "filter_form": QueueFilterForm(request.GET or None, staff=staff),
        "filter_errors": page.filterset.errors,
        "status_counts": [
            {"status": status, "label": Status(status).label, "count": _capped(counts[status]), "current": status_filter == status}
            for status in OPEN_STATUSES
        ],
        "open_total": _capped(sum(counts.values()), capped=any(n >= selectors.STATUS_COUNT_CAP for n in counts.values())),
        "all_open_current": not status_filter,
        "filtered": any(request.GET.get(name) for name in [*ComplaintFilter.base_filters, "sort"]),
        "more_filters_active": sum(1 for name in MORE_FILTERS if request.GET.get(name)),
    }
    partial = request.htmx and request.htmx.target == "queue-results" and not request.htmx.history_restore_request
    response = render(request, "tickets/_queue_results.html" if partial else "tickets/complaint_queue.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# --- intake --------------------------------------------------------------------------------------


@desk_view
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest) -> HttpResponse:
    """Log a complaint. Errors come back beside the fields with everything typed still in place."""
    if request.method == "POST":
        form = ComplaintLogForm(request.POST)
        if form.is_valid():
            try:
                result = services.complaint_log(data=form.to_input(), actor=ActorRef.from_request(request))
            except DomainError as exc:
                form.apply_domain_error(exc.message, exc.fields)
            else:
                complaint = result.complaint
                if result.created:
                    messages.success(request, f"{complaint.reference} logged for {complaint.customer}.")
                else:
                    messages.info(request, f"This form was already sent: {complaint.reference} was logged then.")
                return redirect("tickets:detail", reference=complaint.reference)
        status = 422
    else:
        form = ComplaintLogForm(initial={"customer_email": request.GET.get("email", "")})
        status = 200
    return render(request, "tickets/complaint_new.html", {"form": form}, status=status)


@desk_view
@require_GET
def customer_lookup(request: HttpRequest) -> HttpResponse:
    """htmx: customers matching what has been typed into the email field (at least 2 characters, at most 8)."""
    text = request.GET.get("customer_email", "") or request.GET.get("q", "")
    customers = selectors.customer_suggest(text=text)
    exact = next((c for c in customers if c.email and c.email == text.strip().lower()), None)
    return render(
        request,
        "tickets/_customer_suggestions.html",
        {"customers": customers, "exact": exact, "text": text.strip(), "too_short": len(text.strip()) < 2},
    )


# --- complaint page ------------------------------------------------------------------------------


def _complaint_or_404(reference: str) -> Complaint:
    complaint = selectors.complaint_get(reference=reference)
    if complaint is None:
        raise Http404(f"No complaint with reference {reference}.")
    return complaint


def _complaint_context(
    request: HttpRequest,
    complaint: Complaint,
    *,
    comment_form: CommentForm | None = None,
    transition_form: TransitionForm | None = None,
) -> dict[str, Any]:
    history = selectors.customer_complaint_history(complaint=complaint)
    staff = list(selectors.staff_assignable())
    now = timezone.now()
    return {
        "complaint": complaint,
        "customer": complaint.customer,
        "now": now,
        "overdue": selectors.complaint_is_overdue(complaint, now=now),
        "history": history[: selectors.CUSTOMER_HISTORY_LIMIT],
        "history_more": len(history) > selectors.CUSTOMER_HISTORY_LIMIT,
        "timeline": list(selectors.complaint_timeline(complaint=complaint)[:TIMELINE_LIMIT]),
        "comments": list(selectors.complaint_comments(complaint=complaint)),
        "transitions": [
            {
                "status": status,
                "label": "Reopen" if complaint.status == Status.RESOLVED and status == Status.IN_PROGRESS
                else TRANSITION_LABELS[status],
            }
            for status in complaint.allowed_transitions()
        ],
        "staff": staff,
        "comment_form": comment_form or CommentForm(),
        "transition_form": transition_form or TransitionForm(),
        "comment_kinds": Comment.Kind,
        "reply_channel": services.reply_channel(complaint),
        "reply_blocked_reason": None if services.reply_channel(complaint) else services.reply_undeliverable_reason(complaint),
        "panels": complaint_panels(request, complaint),
    }


def _render_complaint(request: HttpRequest, complaint: Complaint, status: int = 200, **forms: Any) -> HttpResponse:
    template = "tickets/_complaint_response.html" if request.htmx else "tickets/complaint_detail.html"
    response = render(request, template, _complaint_context(request, complaint, **forms), status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@desk_view
@require_GET
def complaint_detail(request: HttpRequest, reference: str) -> HttpResponse:
    complaint = _complaint_or_404(reference)
    if reference != complaint.reference:
        return redirect("tickets:detail", reference=complaint.reference, permanent=True)
    return _render_complaint(request, complaint)


def _action_done(request: HttpRequest, complaint: Complaint, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        return _render_complaint(request, _complaint_or_404(complaint.reference))
    return redirect("tickets:detail", reference=complaint.reference)


def _action_refused(request: HttpRequest, complaint: Complaint, message: str, status: int = 409, **forms: Any) -> HttpResponse:
    messages.error(request, message)
    if request.htmx or forms:
        # Re-render in place (fresh from the database) so the typed text stays in its field.
        return _render_complaint(request, _complaint_or_404(complaint.reference), status=status, **forms)
    return redirect("tickets:detail", reference=complaint.reference)


@desk_view
@require_POST
def complaint_comment(request: HttpRequest, reference: str) -> HttpResponse:
    """Add an internal note or a reply."""
    complaint = _complaint_or_404(reference)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _action_refused(request, complaint, "The note was not saved: see the field below.", 422, comment_form=form)
    try:
        comment = services.comment_add(
            complaint=complaint, kind=form.cleaned_data["kind"], body=form.cleaned_data["body"],
            actor=ActorRef.from_request(request),
        )
    except DomainError as exc:
        for name, errors in exc.fields.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
        return _action_refused(request, complaint, exc.message, exc.status, comment_form=form)
    done = (
        f"Reply saved and being emailed to {complaint.customer.email}; the timeline shows when it is sent."
        if comment.kind == Comment.Kind.REPLY
        else "Note added."
    )
    return _action_done(request, complaint, done)


@desk_view
@require_POST
def reply_send_again(request: HttpRequest, reference: str, comment_id: int) -> HttpResponse:
    """Try once more to send a reply whose sending failed."""
    complaint = _complaint_or_404(reference)
    comment = get_object_or_404(Comment, pk=comment_id, complaint=complaint)
    try:
        services.reply_send_again(comment=comment, actor=ActorRef.from_request(request))
    except DomainError as exc:
        return _action_refused(request, complaint, exc.message, exc.status)
    return _action_done(request, complaint, "Sending the reply again.")


@desk_view
@require_POST
def complaint_transition(request: HttpRequest, reference: str) -> HttpResponse:
    """Move the complaint to another status, if the transition table allows it."""
    complaint = _complaint_or_404(reference)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _action_refused(request, complaint, "Choose a status to move to.", 400)
    try:
        complaint = services.complaint_transition(
            complaint=complaint, to_status=form.cleaned_data["to_status"], note=form.cleaned_data["note"],
            actor=ActorRef.from_request(request),
        )
    except DomainError as exc:
        return _action_refused(request, complaint, exc.message, exc.status)
    return _action_done(request, complaint, f"{complaint.reference} is now {complaint.get_status_display().lower()}.")


@desk_view
@require_POST
def complaint_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Assign to me, to someone with a role, or to nobody."""
    complaint = _complaint_or_404(reference)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _action_refused(request, complaint, "Choose someone to assign.", 400)
    choice = form.cleaned_data["assignee"]
    actor = ActorRef.from_request(request)
    try:
        if choice == "me":
            assignee = request.user
        elif choice is None:
            assignee = None
        else:
            assignee = services.staff_user_get(user_id=int(choice))
        complaint = services.complaint_assign(complaint=complaint, assignee=assignee, actor=actor)
    except DomainError as exc:
        return _action_refused(request, complaint, exc.message, exc.status)
    if complaint.assignee is None:
        done = f"{complaint.reference} is unassigned."
    elif complaint.assignee == request.user:
        done = f"{complaint.reference} is assigned to you."
    else:
        done = f"{complaint.reference} is assigned to {complaint.assignee.get_full_name() or complaint.assignee}."
    return _action_done(request, complaint, done)
