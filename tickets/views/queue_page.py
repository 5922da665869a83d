"""The queue: filters, sorting, saved views and bulk actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.filters import ComplaintFilter
from tickets.forms import (
    BulkActionForm,
    QueueFilterForm,
    SavedViewForm,
)
from tickets.models import OPEN_STATUSES, Role, SavedView, Status
from tickets.permissions import (
    can_share_views,
    desk_view,
    role_at_least,
)

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
