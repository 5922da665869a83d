"""The webhooks pages: managers subscribe URLs, read the delivery log, send again and replay.

notifications knows no roles: who may manage is asked of settings.WEBHOOKS_MANAGER_CHECK (tickets answers)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_http_methods, require_POST

from notifications import selectors, services
from notifications.forms import ReplayForm, WebhookEndpointForm
from notifications.models import Delivery, WebhookEndpoint

SECRET_SESSION_KEY = "webhook_new_secret"
DELIVERIES_SHOWN = 50


def manager_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not import_string(settings.WEBHOOKS_MANAGER_CHECK)(request.user):
            raise PermissionDenied("Webhooks are managed by managers and executives.")
        return view(request, *args, **kwargs)

    return wrapper


def _endpoint(pk: int) -> WebhookEndpoint:
    endpoint = selectors.webhook_endpoint_get(endpoint_id=pk)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _form_errors(form: WebhookEndpointForm, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


@manager_view
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.webhook_endpoint_create(
                url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                description=form.cleaned_data["description"], created_by=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            request.session[SECRET_SESSION_KEY] = {"id": new.endpoint.pk, "secret": new.secret}
            messages.success(request, "Webhook endpoint added. Copy its secret now: it is shown only once.")
            return redirect("notifications:webhook_detail", pk=new.endpoint.pk)
    endpoints = list(selectors.webhook_endpoint_list())
    stats = selectors.webhook_endpoint_stats(endpoint_ids=[e.pk for e in endpoints])
    rows = [{"endpoint": e, "stats": stats.get(e.pk, {})} for e in endpoints]
    status = 400 if request.method == "POST" else 200
    return render(request, "notifications/webhook_list.html", {"rows": rows, "form": form}, status=status)


@manager_view
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events, "active": endpoint.active}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_update(endpoint=endpoint, changes=form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("notifications:webhook_detail", pk=endpoint.pk)
    new_secret = request.session.pop(SECRET_SESSION_KEY, None) if request.method == "GET" else None
    state = request.GET.get("state") if request.GET.get("state") in Delivery.State.values else None
    context = {
        "endpoint": endpoint,
        "form": form,
        "replay_form": ReplayForm(),
        "new_secret": new_secret["secret"] if new_secret and new_secret.get("id") == endpoint.pk else None,
        "deliveries": list(selectors.webhook_deliveries(endpoint=endpoint, state=state)[:DELIVERIES_SHOWN]),
        "state": state,
        "states": Delivery.State.choices,
    }
    return render(request, "notifications/webhook_detail.html", context, status=400 if request.method == "POST" else 200)


@manager_view
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Deleted the webhook endpoint {endpoint.url}.")
    return redirect("notifications:webhooks")


@manager_view
@require_POST
def webhook_rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    new = services.webhook_endpoint_rotate_secret(endpoint=_endpoint(pk))
    request.session[SECRET_SESSION_KEY] = {"id": new.endpoint.pk, "secret": new.secret}
    messages.success(request, "New secret made; the old one no longer verifies. Copy it now: it is shown only once.")
    return redirect("notifications:webhook_detail", pk=pk)


@manager_view
@require_POST
def webhook_resend(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    delivery = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    services.delivery_resend(delivery=delivery)
    messages.success(request, f"Sending {delivery.event.type} ({delivery.event.msg_id}) again.")
    return redirect("notifications:webhook_detail", pk=pk)


@manager_view
@require_POST
def webhook_replay(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the date and time to replay failed deliveries from.")
        return redirect("notifications:webhook_detail", pk=pk)
    count = services.webhook_endpoint_replay(endpoint=endpoint, since=form.cleaned_data["since"])
    messages.success(request, f"Sending {count} failed deliver{'y' if count == 1 else 'ies'} again.")
    return redirect("notifications:webhook_detail", pk=pk)
