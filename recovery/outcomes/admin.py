"""Admin for outcomes: activity is searchable, outcomes and learning are read-only (they are derived data)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from recovery.models import CustomerActivity, GestureLearning, OutcomeWindow, RecoveryOutcome
from recovery.outcomes.learning import cell_signal


class ReadOnlyAdmin(admin.ModelAdmin):
    """Computed by the services and sweeps; editing a row here would only be overwritten or mislead."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CustomerActivity)
class CustomerActivityAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "customer", "amount", "currency", "source", "external_id"]
    list_filter = ["kind", "source", "currency"]
    search_fields = ["external_id", "customer__email", "customer__name", "customer__references__external_id"]
    date_hierarchy = "occurred_at"
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


class OutcomeWindowInline(admin.TabularInline):
    model = OutcomeWindow
    fields = ["days", "ends_at", "state", "returned_at", "revenue", "settled_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RecoveryOutcome)
class RecoveryOutcomeAdmin(ReadOnlyAdmin):
    list_display = [
        "complaint", "customer", "offered", "declined", "recovered", "gesture", "cause", "grade", "tier", "gesture_cost",
        "anchor_at",
    ]
    list_filter = ["offered", "declined", "recovered", "cause", "grade", "tier", "gesture"]
    search_fields = ["complaint__subject", "customer__email", "customer__name"]
    date_hierarchy = "anchor_at"
    list_select_related = ["complaint", "customer", "gesture"]
    raw_id_fields = ["complaint", "customer", "offer"]
    inlines = [OutcomeWindowInline]


@admin.register(GestureLearning)
class GestureLearningAdmin(ReadOnlyAdmin):
    list_display = ["gesture", "cause", "successes", "trials", "observed", "what_agents_see", "updated_at"]
    list_filter = ["cause", "gesture"]
    list_select_related = ["gesture"]

    @admin.display(description="returned")
    def observed(self, obj: GestureLearning) -> str:
        return f"{obj.successes / obj.trials:.0%}" if obj.trials else "–"

    @admin.display(description="label in suggestions")
    def what_agents_see(self, obj: GestureLearning) -> str:
        # The cell alone (its own pool); the ranking also shrinks toward the gesture's other causes.
        return cell_signal(obj.successes, obj.trials, obj.successes, obj.trials).label
