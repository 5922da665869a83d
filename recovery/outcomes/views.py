"""Browser views for outcomes: the outcome dashboard (managers and executives) and a customer's history."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from recovery.outcomes import charts as charts_outcomes
from recovery.outcomes import metrics, selectors
from recovery.outcomes.forms import MetricsFilterForm
from tickets.models import Role
from tickets.permissions import role_required


@role_required(Role.MANAGER, message="The outcome dashboard is for managers and executives.")
def dashboard(request: HttpRequest) -> HttpResponse:
    """Return rates of recovered customers against both baselines, spend, and the cases that need attention."""
    form = MetricsFilterForm(request.GET or None)
    filters = form.to_filter() if form.is_bound and form.is_valid() else metrics.MetricsFilter()
    data = metrics.recovery_metrics(filters)
    selected = next(w for w in data["windows"] if w["days"] == data["selected_window"])
    ugly, ugly_count = selectors.open_ugly_complaints()
    overdue, overdue_count = selectors.overdue_complaints()
    escalations, escalation_count = selectors.overdue_escalations()
    return render(
        request,
        "recovery/dashboard_outcomes.html",
        {
            "form": form,
            "data": data,
            "computed_at": datetime.fromisoformat(data["computed_at"]),
            "selected": selected,
            "charts": charts_outcomes.dashboard_charts(data),
            "filtered": filters.narrows_complainers or bool(filters.month_from or filters.month_to),
            "cache_minutes": max(1, settings.METRICS_CACHE_SECONDS // 60) if settings.METRICS_CACHE_SECONDS > 0 else 0,
            "ugly": ugly,
            "ugly_count": ugly_count,
            "overdue": overdue,
            "overdue_count": overdue_count,
            "escalations": escalations,
            "escalation_count": escalation_count,
            "breakdowns": [
                ("cause", "By cause", data["breakdowns"]["cause"]),
                ("grade", "By grade", data["breakdowns"]["grade"]),
                ("tier", "By tier the case reached", data["breakdowns"]["tier"]),
            ],
        },
    )


@role_required(Role.AGENT, message="Customer pages are for support staff.")
def customer(request: HttpRequest, customer_id: int) -> HttpResponse:
    """One customer: each past complaint with its outcome, and their recent activity."""
    history = selectors.customer_history(customer_id=customer_id)
    if history is None:
        raise Http404("No such customer.")
    return render(request, "recovery/outcome_customer.html", {"history": history, "customer": history.customer})


urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
    path("customers/<int:customer_id>/", customer, name="customer"),
]
