"""Macros: leads and above write and manage them; every agent inserts them (complaint.py)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.forms import (
    MacroForm,
)
from tickets.macros import placeholders
from tickets.models import Macro
from tickets.permissions import (
    can_manage_macros,
    desk_view,
)


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
