"""The in-app notices page: a person's own notices, newest first; mark them read; open what they point to.

notifications knows nothing of tickets or roles, so these pages only need a signed-in person: everyone
sees just their own notices.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from notifications.models import Notification
from notifications.selectors import notification_list, notification_unread_count
from notifications.services import notification_mark_read

PAGE_SIZE = 50


def _page(request: HttpRequest, *, unread_only: bool, before: int | None) -> tuple[list[Notification], int | None]:
    """One page, newest first, continuing below the id `before` (keyset: no OFFSET, no count)."""
    notices = notification_list(recipient=request.user).order_by("-id")
    if unread_only:
        notices = notices.filter(read_at__isnull=True)
    if before is not None:
        notices = notices.filter(pk__lt=before)
    rows = list(notices[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].pk if more and rows else None)


def _before(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() else None


def _render_list(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    rows, next_before = _page(request, unread_only=unread_only, before=_before(request))
    context = {
        "notices": rows,
        "next_before": next_before,
        "unread_only": unread_only,
        "unread_count": notification_unread_count(recipient=request.user),
        "paged": _before(request) is not None,
    }
    template = "notifications/_notice_list.html" if request.htmx else "notifications/notice_list.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def notice_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@login_required
@require_POST
def notice_mark_read(request: HttpRequest) -> HttpResponse:
    """Mark the posted notice ids read, or all of them when `all` is posted."""
    if request.POST.get("all"):
        ids = None
    else:
        ids = [int(value) for value in request.POST.getlist("id") if value.isdigit()]
    changed = notification_mark_read(recipient=request.user, notification_ids=ids) if ids != [] else 0
    messages.success(request, "All notices marked read." if ids is None else f"{changed} notice(s) marked read.")
    if request.htmx:
        return _render_list(request)
    return redirect(_safe_next(request) or "notifications:list")


@login_required
@require_POST
def notice_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notice read and go to the page it is about (only pages on this site)."""
    notice = get_object_or_404(Notification, pk=pk, recipient=request.user)
    notification_mark_read(recipient=request.user, notification_ids=[notice.pk])
    if notice.url and url_has_allowed_host_and_scheme(notice.url, allowed_hosts=None) and notice.url.startswith("/"):
        return redirect(notice.url)
    return redirect("notifications:list")


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) and target.startswith("/"):
        return target
    return None


@login_required
@require_GET
def notice_unread_count(request: HttpRequest) -> HttpResponse:
    """htmx (polled by every page's header): the unread count, redrawn in place."""
    response = render(
        request, "notifications/_unread_count.html", {"unread": notification_unread_count(recipient=request.user)}
    )
    response["Cache-Control"] = "no-store"
    return response
