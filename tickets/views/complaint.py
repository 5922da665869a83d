"""The complaint page and its actions: comments and replies, macros, status, assignee."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.forms import (
    AssignForm,
    CommentForm,
    TransitionForm,
)
from tickets.macros import macro_render
from tickets.models import Comment, Complaint, Status
from tickets.panels import GRADE_REASONS_PANEL, complaint_panels, registered_complaint_panels
from tickets.permissions import (
    complaint_change_refusal,
    desk_view,
)

TIMELINE_LIMIT = 200


TRANSITION_LABELS = {
    Status.IN_PROGRESS: "Start work",
    Status.WAITING_ON_CUSTOMER: "Waiting on customer",
    Status.RESOLVED: "Resolve",
    Status.CLOSED: "Close",
}


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


def _change_refused(request: HttpRequest, complaint: Complaint, form: Any, invalid: str) -> HttpResponse | None:
    """The answer refusing a status or assignee change (an invalid form, a person who may not change this
    complaint, a page out of date), or None when it may go ahead."""
    if not form.is_valid():
        return _action_refused(request, complaint, invalid, 400)
    refusal = complaint_change_refusal(request.user, complaint) or _changed_meanwhile(request, complaint)
    return _action_refused(request, complaint, refusal, 409) if refusal else None


@desk_view
@require_POST
def complaint_transition(request: HttpRequest, reference: str) -> HttpResponse:
    """Move the complaint to another status, if the transition table allows it."""
    complaint = _complaint_or_404(reference)
    form = TransitionForm(request.POST)
    refused = _change_refused(request, complaint, form, "Choose a status to move to.")
    if refused:
        return refused
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
    refused = _change_refused(request, complaint, form, "Choose someone to assign.")
    if refused:
        return refused
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
