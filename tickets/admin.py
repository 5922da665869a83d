from django.contrib import admin, messages

from tickets.apikeys import api_key_create, api_key_revoke
from tickets.models import ApiKey, Comment, Complaint, Customer, CustomerReference, TimelineEvent


class CustomerReferenceInline(admin.TabularInline):
    model = CustomerReference
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "lifetime_value", "social_reach", "segment", "created_at")
    search_fields = ("name", "email", "references__external_id")
    list_filter = ("segment",)
    inlines = [CustomerReferenceInline]


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor_label", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """Read-mostly: complaints change through the desk and the API, which keep the timeline."""

    list_display = ("reference", "subject", "customer", "cause", "severity", "status", "grade", "tier", "created_at")
    list_filter = ("status", "cause", "grade", "tier", "channel")
    search_fields = ("subject", "customer__name", "customer__email", "external_id")
    list_select_related = ("customer",)
    inlines = [TimelineInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Complaint._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("complaint", "kind", "author_label", "created_at")
    readonly_fields = ("complaint", "kind", "body", "author", "author_label", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scopes", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "scopes", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        new = api_key_create(name=obj.name, scopes=list(obj.scopes or []), user=obj.user)
        obj.pk = new.api_key.pk
        obj.prefix = new.api_key.prefix
        messages.warning(request, f"Copy this key now; it is not shown again: {new.secret}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")

from tickets.helpdesks import admin as helpdesk_admin  # noqa: E402, F401 - registers the helpdesk models
