"""Admin for helpdesk connections (secrets write-only) and their deliveries (read-only, with process again)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from tickets.errors import DomainError
from tickets.helpdesks import services
from tickets.helpdesks.mapping import DEFAULT_STATUS_MAPS
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery
from tickets.helpdesks.secrets import secret_generate


class HelpdeskConnectionForm(forms.ModelForm):
    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Set or replace the secret. Left empty on a new connection, one is generated and shown once.",
    )

    class Meta:
        model = HelpdeskConnection
        fields = ["kind", "name", "active", "cause_map", "cause_field", "default_cause", "severity_map",
                  "default_severity", "status_map"]


@admin.register(HelpdeskConnection)
class HelpdeskConnectionAdmin(admin.ModelAdmin):
    form = HelpdeskConnectionForm
    list_display = ("name", "kind", "active", "inbound_path", "created_at")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    readonly_fields = ("inbound_path", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        secret = form.cleaned_data.get("new_secret", "").strip()
        if not change:
            secret = secret or secret_generate()
            obj.created_by = request.user
            if not obj.status_map:
                obj.status_map = dict(DEFAULT_STATUS_MAPS.get(obj.kind, {}))
            messages.warning(request, f"Copy this secret now; it is not shown again: {secret}")
        if secret:
            services.connection_set_secret(obj, secret)
        super().save_model(request, obj, form, change)


@admin.register(HelpdeskDelivery)
class HelpdeskDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "connection", "event", "ticket_id", "result", "complaint")
    list_filter = ("result", "connection")
    search_fields = ("delivery_id", "ticket_id", "event")
    list_select_related = ("connection", "complaint")
    actions = ["process_again"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in HelpdeskDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Process the selected failed deliveries again")
    def process_again(self, request, queryset):
        done = 0
        for delivery in queryset.filter(result__in=["failed", "pending"]):
            try:
                services.delivery_retry(delivery=delivery)
                done += 1
            except DomainError:
                continue
        messages.success(request, f"Queued {done} deliveries again.")
