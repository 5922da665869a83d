"""The agent's desk in the browser: the queue, logging a complaint, and the complaint page with its actions.

Thin: every view checks the role on the server, then calls one selector or one service. Actions answer an htmx
request with the re-rendered part of the page and a plain form POST with a redirect (the fallback without
JavaScript). Domain errors become messages beside the action, never a server error.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.filters import ComplaintFilter
from tickets.forms import (
    AssignForm,
    BulkActionForm,
    CommentForm,
    ComplaintLogForm,
    MacroForm,
    QueueFilterForm,
    SavedViewForm,
    TransitionForm,
)
from tickets.macros import macro_render, placeholders
from tickets.models import OPEN_STATUSES, Comment, Complaint, Macro, Role, SavedView, Status
from tickets.panels import GRADE_REASONS_PANEL, complaint_panels, registered_complaint_panels
from tickets.permissions import (
    can_manage_macros,
    can_share_views,
    complaint_change_refusal,
    role_at_least,
    role_required,
)

TIMELINE_LIMIT = 200
# Queue columns: (key, heading, sort name or None, the direction a first click sorts in).
QUEUE_COLUMNS = [
    ("reference", "Complaint", None, ""),
    ("customer", "Customer", None, ""),
    ("status", "Status", None, ""),
    ("grade", "Grade · risk", "risk", "-"),
    ("severity", "Severity", "severity", "-"),
    ("assignee", "Assignee", None, ""),
    ("due", "Next deadline", "urgency", ""),
    ("created", "Logged", "created", "-"),
]
# Filters folded under "More filters" (opened when one of them is in use).
MORE_FILTERS = ("cause", "grade", "severity_min", "escalated", "created_after", "created_before")
TRANSITION_LABELS = {
    Status.IN_PROGRESS: "Start work",
    Status.WAITING_ON_CUSTOMER: "Waiting on customer",
    Status.RESOLVED: "Resolve",
    Status.CLOSED: "Close",
}


# Every desk page: signed in with a support role (tickets.permissions.role_required is the one role check).
desk_view = role_required()


# --- queue -----------------------------------------------------------------------------------------


def _sort_headers(request: HttpRequest, sort: str) -> list[dict[str, Any]]:
    current = sort.lstrip("-")
    headers = []
    for key, label, sort_name, first_direction in QUEUE_COLUMNS:
        header: dict[str, Any] = {"key": key, "label": label, "sortable": sort_name is not None}
        if sort_name:
            active = current == sort_name
            descending = sort.startswith("-")
            if sort_name == "urgency":
                # One direction only: most urgent first.
                header["next_sort"] = sort_name
                if active:
                    header["aria_sort"] = "ascending"
            elif active:
                header["aria_sort"] = "descending" if descending else "ascending"
                header["next_sort"] = sort_name if descending else f"-{sort_name}"
            else:
                header["next_sort"] = f"{first_direction}{sort_name}"
        headers.append(header)
    return headers


def _capped(count: int, *, capped: bool | None = None) -> str | int:
    """A count as the queue shows it: "10000+" when counting stopped at the cap."""
    return f"{count}+" if (count >= selectors.STATUS_COUNT_CAP if capped is None else capped) else count


def _queue_params(request: HttpRequest) -> tuple[QueryDict, str]:
    """The queue's effective filters and its preset view.

    A bare /complaints/ is "my open work"; ?view=<preset> adds that view's filters to whatever else the URL says.
    Any other filter without a view means exactly those filters (bookmarks and saved views keep working). A search
    (q) ignores the view."""
    params = request.GET.copy()
    view = params.get("view", "")
    if params.get("q", "").strip():
        # Search finds a complaint wherever it is, whatever view it was typed in.
        return params, ""
    if not any(value for key, value in params.items() if key not in {"cursor", "sort"}):
        view = selectors.QUEUE_DEFAULT_VIEW
    preset = selectors.queue_view_params(view)
    if preset is None:
        return params, ""
    for name, value in preset.items():
        if not params.get(name):
            params[name] = value
    return params, view


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    params, view = _queue_params(request)
    page = selectors.complaint_queue_page(
        params=params, user=request.user, sort=request.GET.get("sort", ""), cursor=request.GET.get("cursor")
    )
    # One reverse() for the page instead of one per row.
    detail_url = reverse("tickets:detail", kwargs={"reference": "CX-0"})
    for complaint in page.complaints:
        complaint.detail_url = detail_url.replace("CX-0", complaint.reference)
    counts = selectors.complaint_open_status_counts()
    staff = list(selectors.staff_assignable())
    status_filter = request.GET.get("status", "")
    query = _saved_query(request.GET)
    lead = role_at_least(request.user, Role.LEAD)
    saved = selectors.saved_views_for(user=request.user)
    for saved_view in saved:
        saved_view.current = saved_view.query == query and bool(query)
        saved_view.may_delete = saved_view.owner_id == request.user.pk or (saved_view.shared and lead)
    return {
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
        "views": [
            {"key": key, "label": label, "current": key == view, "url": f"?view={key}"}
            for key, label, min_role, _ in selectors.QUEUE_VIEWS
            if role_at_least(request.user, min_role)
        ],
        "view": view,
        "saved_views": saved,
        "saved_query": query,
        "can_share_views": can_share_views(request.user),
        "workload": selectors.team_workload(now=page.now) if lead and view in {"team", "escalated"} else None,
        "staff": staff,
        "bulk_statuses": [(s.value, s.label) for s in Status if s != Status.NEW],
        "queue_url": request.get_full_path(),
    }


@desk_view
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The queue: "my open work" by urgency unless the URL says otherwise (filters in the URL are bookmarkable),
    counts per open status, one keyset page."""
    context = _queue_context(request)
    partial = request.htmx and request.htmx.target == "queue-results" and not request.htmx.history_restore_request
    response = render(request, "tickets/_queue_results.html" if partial else "tickets/complaint_queue.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


SAVED_VIEW_PARAMS = ("view", "sort", *ComplaintFilter.base_filters)


def _saved_query(query: QueryDict) -> str:
    """The part of a queue URL a saved view keeps (its filters, preset view and sort; not the page), in a fixed
    order so the same filters always give the same string."""
    kept = QueryDict(mutable=True)
    for name in sorted(SAVED_VIEW_PARAMS):
        values = sorted(v for v in query.getlist(name) if v.strip())
        if values:
            kept.setlist(name, values)
    return kept.urlencode()


def _back_to_queue(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not target.startswith("/complaints/") or not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        target = reverse("tickets:queue")
    return redirect(target)


@desk_view
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the queue's current filters under a name, privately or (leads and above) for everyone."""
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The view was not saved: " + " ".join(e for errors in form.errors.values() for e in errors))
        return _back_to_queue(request)
    query = QueryDict(form.cleaned_data["query"])
    check = ComplaintFilter(data=selectors.queue_filter_params(query), queryset=selectors.complaint_list())
    if not check.is_valid():
        messages.error(request, "The view was not saved: some of its filters are not valid. Fix them first.")
        return _back_to_queue(request)
    shared = form.cleaned_data["shared"]
    if shared and not can_share_views(request.user):
        messages.error(request, "Only team leads and above share views; it was saved for you only.")
        shared = False
    view = services.saved_view_save(owner=request.user, name=form.cleaned_data["name"], query=_saved_query(query), shared=shared)
    messages.success(request, f"Saved the view “{view.name}”{' for everyone' if view.shared else ' for you'}.")
    return redirect(f"{reverse('tickets:queue')}?{view.query}")


@desk_view
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk)
    if view.owner_id != request.user.pk and not (view.shared and role_at_least(request.user, Role.LEAD)):
        raise PermissionDenied("This view is someone else's; only they (or a lead, for a shared view) may remove it.")
    view.delete()
    messages.success(request, f"Removed the view “{view.name}”.")
    return _back_to_queue(request)


@desk_view
@require_POST
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the ticked complaints, each with the checks of the single action; refusals are reported."""
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back_to_queue(request)
    data = form.cleaned_data
    action = data["action"]
    actor = ActorRef.from_request(request)
    try:
        if action == "assign":
            choice = data["assignee"]
            value = request.user if choice == "me" else None if choice == "none" else services.staff_user_get(user_id=int(choice))
        elif action == "status":
            value = data["to_status"]
        else:
            value = data["tag"]
        complaints = selectors.complaint_list().filter(pk__in=data["ids"]).order_by("id")
        outcome = services.complaints_bulk_apply(complaints=complaints, action=action, value=value, actor=actor)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back_to_queue(request)
    if outcome.done:
        messages.success(request, f"Done for {len(outcome.done)}: {', '.join(outcome.done)}.")
    if outcome.refused:
        messages.error(
            request,
            f"Not done for {len(outcome.refused)}: " + " ".join(why for _, why in outcome.refused),
        )
    return _back_to_queue(request)


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
    new_comment_id: int | None = None,
) -> dict[str, Any]:
    history = selectors.customer_complaint_history(complaint=complaint)
    staff = list(selectors.staff_assignable())
    now = timezone.now()
    answered = complaint.first_response_at is not None
    unanswered_new = complaint.status == Status.NEW and not answered
    return {
        "complaint": complaint,
        "customer": complaint.customer,
        "now": now,
        "version": selectors.complaint_version(complaint=complaint),
        "overdue": selectors.complaint_is_overdue(complaint, now=now),
        "history": history[: selectors.CUSTOMER_HISTORY_LIMIT],
        "history_more": len(history) > selectors.CUSTOMER_HISTORY_LIMIT,
        "timeline": list(selectors.complaint_timeline(complaint=complaint)[:TIMELINE_LIMIT]),
        "comments": list(selectors.complaint_comments(complaint=complaint)),
        "new_comment_id": new_comment_id,
        "transitions": [
            {
                "status": status,
                "label": "Reopen" if complaint.status == Status.RESOLVED and status == Status.IN_PROGRESS
                else TRANSITION_LABELS[status],
                # The next step is the primary button: start work on a new case; resolve only once answered.
                "primary": (status == Status.IN_PROGRESS and complaint.status == Status.NEW)
                or (status == Status.RESOLVED and answered and complaint.status != Status.NEW),
                "confirm": _transition_confirm(complaint, status, unanswered_new),
            }
            for status in complaint.allowed_transitions()
        ],
        "change_refusal": complaint_change_refusal(request.user, complaint),
        "staff": staff,
        "comment_form": comment_form or CommentForm(),
        "transition_form": transition_form or TransitionForm(),
        "comment_kinds": Comment.Kind,
        "macros": list(selectors.macro_list(active_only=True)),
        "reply_channel": services.reply_channel(complaint),
        "reply_blocked_reason": None if services.reply_channel(complaint) else services.reply_undeliverable_reason(complaint),
        "panels": complaint_panels(request, complaint),
        # recovery's "Why escalated" panel lists the grade reasons; the grade card then does not repeat them.
        "grade_reasons_elsewhere": any(p.key == GRADE_REASONS_PANEL for p in registered_complaint_panels()),
    }


def _transition_confirm(complaint: Complaint, status: str, unanswered_new: bool) -> str:
    if status == Status.RESOLVED:
        if unanswered_new:
            return (
                f"Resolve {complaint.reference}? Nobody has answered the customer yet: resolving stops the response "
                "deadline and starts the return watch."
            )
        return f"Resolve {complaint.reference}? The customer's return watch starts now."
    if status == Status.CLOSED:
        return f"Close {complaint.reference}? A closed complaint cannot be reopened."
    return ""


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


def _action_done(request: HttpRequest, complaint: Complaint, message: str, **extra: Any) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        return _render_complaint(request, _complaint_or_404(complaint.reference), **extra)
    return redirect("tickets:detail", reference=complaint.reference)


def _action_refused(request: HttpRequest, complaint: Complaint, message: str, status: int = 409, **forms: Any) -> HttpResponse:
    messages.error(request, message)
    if request.htmx or forms:
        # Re-render in place (fresh from the database) so the typed text stays in its field.
        return _render_complaint(request, _complaint_or_404(complaint.reference), status=status, **forms)
    return redirect("tickets:detail", reference=complaint.reference)


def _changed_meanwhile(request: HttpRequest, complaint: Complaint) -> str | None:
    """A message when someone else changed the complaint after the version the form was drawn at, else None.

    Forms carry the version they were drawn at; a post without one (an old page, the API) is not checked."""
    posted = request.POST.get("version", "")
    if not posted.isdigit():
        return None
    changes = selectors.complaint_changes_since(complaint=complaint, version=int(posted), user=request.user)
    if not changes:
        return None
    return (
        f"{complaint.reference} was changed while you had it open: {_changes_in_words(changes)}. "
        "Nothing of yours was saved yet; check the change, then save again."
    )


def _changes_in_words(changes: list[Any]) -> str:
    words = [f"{e.get_kind_display().lower()}{f' ({e.message})' if e.message else ''} by {e.actor_label}" for e in changes[-3:]]
    more = len(changes) - len(words)
    return "; ".join(words) + (f", and {more} earlier change{'s' if more != 1 else ''}" if more > 0 else "")


@desk_view
@require_GET
def complaint_changes(request: HttpRequest, reference: str) -> HttpResponse:
    """htmx (polled by the open complaint page): a warning when someone else changed it since `version`."""
    complaint = _complaint_or_404(reference)
    version = request.GET.get("version", "")
    changes = (
        selectors.complaint_changes_since(complaint=complaint, version=int(version), user=request.user)
        if version.isdigit() else []
    )
    return render(request, "tickets/_changed_warning.html", {"complaint": complaint, "changes": changes,
                                                              "words": _changes_in_words(changes) if changes else ""})


@desk_view
@require_POST
def complaint_comment(request: HttpRequest, reference: str) -> HttpResponse:
    """Add an internal note or a reply."""
    complaint = _complaint_or_404(reference)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _action_refused(request, complaint, "The note was not saved: see the field below.", 422, comment_form=form)
    stale = _changed_meanwhile(request, complaint)
    if stale:
        return _action_refused(request, complaint, stale, 409, comment_form=form)
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
    return _action_done(request, complaint, done, new_comment_id=comment.pk)


@desk_view
@require_GET
def macro_insert(request: HttpRequest, reference: str) -> HttpResponse:
    """htmx: the compose box with a macro filled in for this complaint, after what was already typed."""
    complaint = _complaint_or_404(reference)
    macro_id = request.GET.get("macro", "")
    macro = selectors.macro_list(active_only=True).filter(pk=int(macro_id)).first() if macro_id.isdigit() else None
    typed = request.GET.get("body", "")
    kind = request.GET.get("kind", Comment.Kind.NOTE)
    if macro is not None:
        text = macro_render(macro.body, complaint=complaint, user=request.user)
        typed = f"{typed.rstrip()}\n\n{text}" if typed.strip() else text
        kind = macro.kind
    form = CommentForm(initial={"kind": kind if kind in Comment.Kind.values else Comment.Kind.NOTE, "body": typed})
    if not request.htmx:
        # Without JavaScript: the whole page, with the macro in the box.
        return _render_complaint(request, complaint, comment_form=form)
    return render(request, "tickets/_compose_fields.html", {"comment_form": form, "inserted": macro})


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
    refusal = complaint_change_refusal(request.user, complaint) or _changed_meanwhile(request, complaint)
    if refusal:
        return _action_refused(request, complaint, refusal, 409)
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
    refusal = complaint_change_refusal(request.user, complaint) or _changed_meanwhile(request, complaint)
    if refusal:
        return _action_refused(request, complaint, refusal, 409)
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


# --- macros (leads and above manage them) -----------------------------------------------------------


def _macro_manager(request: HttpRequest) -> None:
    if not can_manage_macros(request.user):
        raise PermissionDenied("Macros are written by team leads, managers and executives; agents insert them on complaints.")


@desk_view
@require_GET
def macro_list(request: HttpRequest) -> HttpResponse:
    _macro_manager(request)
    return render(request, "tickets/macro_list.html", {"macros": selectors.macro_list(), "placeholders": placeholders()})


@desk_view
@require_http_methods(["GET", "POST"])
def macro_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk) or change a macro."""
    _macro_manager(request)
    macro = get_object_or_404(Macro, pk=pk) if pk is not None else None
    status = 200
    if request.method == "POST":
        form = MacroForm(request.POST, instance=macro)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.macro_save(
                    macro=macro, title=data["title"], kind=data["kind"], body=data["body"], active=data["active"],
                    actor=ActorRef.from_request(request),
                )
            except DomainError as exc:
                for name, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(request, f"Saved the macro “{saved.title}”.")
                return redirect("tickets:macros")
        status = 422
    else:
        form = MacroForm(instance=macro, initial={"active": True} if macro is None else None)
    return render(
        request, "tickets/macro_form.html", {"form": form, "macro": macro, "placeholders": placeholders()}, status=status
    )
