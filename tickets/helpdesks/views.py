"""/integrations/: managers connect helpdesks, copy the webhook URL, set the mapping and read the delivery log.

Thin: the role is checked on the server, then one selector or one service is called. The secret is shown
once, in the answer to the form that created it, and never stored in clear.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tickets.errors import DomainError
from tickets.helpdesks import selectors, services
from tickets.helpdesks.forms import ApiForm, ConnectionCreateForm, DeliveryFilterForm, MappingForm, SecretForm
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery, HelpdeskWriteback
from tickets.helpdesks.setup import setup_for
from tickets.models import Role
from tickets.permissions import role_required

MANAGERS_ONLY = "Helpdesk connections are set up by managers and executives."


manager_view = role_required(Role.MANAGER, message=MANAGERS_ONLY)


def _connection(public_id: str) -> HelpdeskConnection:
    connection = selectors.connection_by_public_id(public_id)
    if connection is None:
        raise Http404("No such helpdesk connection.")
    return connection


def _setup_context(request: HttpRequest, connection: HelpdeskConnection) -> dict[str, object]:
    url = request.build_absolute_uri(connection.inbound_path)
    return {"connection": connection, "inbound_url": url, "setup": setup_for(connection.kind, url)}


@manager_view
@require_http_methods(["GET", "POST"])
def integrations(request: HttpRequest) -> HttpResponse:
    form = ConnectionCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.connection_create(created_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            # Answered here, not redirected: the secret must not travel through a session or a URL.
            context = {**_setup_context(request, new.connection), "secret": new.secret}
            return render(request, "tickets/helpdesks/connection_created.html", context, status=201)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "tickets/helpdesks/integrations.html",
        {"connections": selectors.connection_list(), "form": form},
        status=status,
    )


@manager_view
@require_http_methods(["GET", "POST"])
def connection_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    connection = _connection(public_id)
    mapping = MappingForm.for_connection(connection, request.POST if request.method == "POST" else None)
    if request.method == "POST" and mapping.is_valid():
        services.connection_update_mapping(connection=connection, changes=mapping.cleaned_data)
        messages.success(request, "Mapping saved. It applies to deliveries processed from now on.")
        return redirect("helpdesks:detail", public_id=connection.public_id)
    filters = DeliveryFilterForm(request.GET or None)
    result = filters.cleaned_data.get("result", "") if filters.is_valid() else ""
    counts = selectors.delivery_counts(connection)
    context = {
        **_setup_context(request, connection),
        "mapping": mapping,
        "secret_form": SecretForm(),
        "api_form": ApiForm(initial={"api_url": connection.api_url, "api_user": connection.api_user}),
        "writebacks": selectors.writeback_log(connection),
        "filters": filters,
        "result": result,
        "deliveries": selectors.delivery_log(connection, result=result),
        "result_counts": [
            (label, counts[value]) for value, label in HelpdeskDelivery.Result.choices
        ],
    }
    return render(
        request, "tickets/helpdesks/connection_detail.html", context, status=422 if request.method == "POST" else 200
    )


@manager_view
@require_POST
def connection_secret(request: HttpRequest, public_id: str) -> HttpResponse:
    connection = _connection(public_id)
    form = SecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the new secret.")
    else:
        keep = form.cleaned_data["keep_current"]
        try:
            services.connection_set_secret(connection, form.cleaned_data["secret"], keep_current=keep)
        except services.secrets.SecretUnreadable:
            services.connection_set_secret(connection, form.cleaned_data["secret"])
            keep = False
        connection.save(update_fields=["secret_encrypted", "secret_hash", "updated_at"])
        messages.success(
            request,
            "Secret added; the current one still works." if keep
            else "Secret replaced. Requests signed with the old one are now refused.",
        )
    return redirect("helpdesks:detail", public_id=connection.public_id)


@manager_view
@require_POST
def delivery_retry(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    connection = _connection(public_id)
    delivery = get_object_or_404(HelpdeskDelivery, pk=pk, connection=connection)
    try:
        services.delivery_retry(delivery=delivery)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        delivery.refresh_from_db()
        messages.success(request, f"Delivery {delivery.pk} processed again: {delivery.get_result_display().lower()}.")
    query = f"?{request.GET.urlencode()}" if request.GET else ""
    return redirect(reverse("helpdesks:detail", kwargs={"public_id": connection.public_id}) + query)


@manager_view
@require_POST
def connection_api(request: HttpRequest, public_id: str) -> HttpResponse:
    connection = _connection(public_id)
    form = ApiForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.connection_set_api(
                connection=connection, api_url=data["api_url"], api_user=data["api_user"],
                api_token=data["api_token"] or None, clear=data["clear"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                "Write-back switched off; the credentials are forgotten." if data["clear"]
                else "Write-back on: grades, escalations, gestures and outcomes are written to this helpdesk's tickets.",
            )
    return redirect(reverse("helpdesks:detail", kwargs={"public_id": connection.public_id}) + "#writeback-heading")


@manager_view
@require_POST
def writeback_resend(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    from notifications.services import delivery_resend

    connection = _connection(public_id)
    link = get_object_or_404(HelpdeskWriteback.objects.select_related("delivery"), pk=pk, connection=connection)
    if link.delivery.state == "sending":
        messages.error(request, "That write-back is being sent right now.")
    else:
        delivery_resend(delivery=link.delivery)
        link.delivery.refresh_from_db()
        messages.success(request, f"Write-back {pk} sent again: {link.delivery.get_state_display().lower()}.")
    return redirect(reverse("helpdesks:detail", kwargs={"public_id": connection.public_id}) + "#writeback-heading")
