from django.contrib import admin

from notifications.models import Notification, OutboundEmail, WebhookEndpoint


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "recipient", "created_at", "read_at", "email_state")
    list_filter = ("email_state",)
    search_fields = ("title", "recipient__username")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Read-only here: endpoints are managed on /webhooks/ (the secret is shown once there, never here)."""

    list_display = ("url", "active", "events", "failing_since", "created_at")
    list_filter = ("active", "deleted_at")
    search_fields = ("url", "description")
    exclude = ("secret_encrypted",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("ref", "to", "state", "attempts", "sent_at", "created_at")
    list_filter = ("state",)
    search_fields = ("ref", "to")
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]

    def has_add_permission(self, request):
        return False
