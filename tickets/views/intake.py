"""Logging a complaint in the browser, with the customer lookup beside the form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.forms import (
    ComplaintLogForm,
)
from tickets.permissions import (
    desk_view,
)


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
