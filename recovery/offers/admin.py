"""Admin for the playbook, approval limits, offers, approvals and the suggestion log.

Gestures and limits are configuration and may be edited here (with the same validation as /playbook/).
Offers, approval requests and suggestion logs are records: read-only, because their status moves only
through the services (transition table, timeline event, notifications).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from recovery.models import ApprovalLimit, ApprovalRequest, Gesture, Offer, SuggestionLog
from recovery.offers.forms import GestureForm
from recovery.offers.selectors import gesture_spec
from recovery.vocabulary import TIERS


class GestureAdminForm(GestureForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        candidate = Gesture(**{k: v for k, v in cleaned.items() if k in {f.name for f in Gesture._meta.fields}})
        candidate.causes = cleaned.get("causes") or []
        try:
            gesture_spec(candidate)
        except (ValueError, TypeError) as exc:
            raise forms.ValidationError(f"This gesture is not valid: {exc}.")
        return cleaned


@admin.register(Gesture)
class GestureAdmin(admin.ModelAdmin):
    form = GestureAdminForm
    list_display = ["title", "code", "resource_kind", "cost", "cost_pct_of_loss", "surprise", "min_grade", "approval_tier", "active"]
    list_filter = ["active", "resource_kind", "approval_tier", "min_grade", "surprise"]
    search_fields = ["title", "code", "script"]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Offers point at gestures (PROTECT); switch a gesture off instead.
        return obj is not None and not obj.offers.exists() and super().has_delete_permission(request, obj)


class ApprovalLimitForm(forms.ModelForm):
    class Meta:
        model = ApprovalLimit
        fields = ["tier", "amount"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tier, amount = cleaned.get("tier"), cleaned.get("amount")
        if tier is None:
            return cleaned
        others = dict(ApprovalLimit.objects.exclude(tier=tier).values_list("tier", "amount"))
        index = TIERS.index(tier)
        for lower in TIERS[:index]:
            low = others.get(lower, "missing")
            if amount is not None and low != "missing" and (low is None or amount < low):
                raise forms.ValidationError(f"A higher tier cannot have a lower limit than {lower} ({low or 'no limit'}).")
        for higher in TIERS[index + 1 :]:
            high = others.get(higher, "missing")
            if high not in ("missing", None) and (amount is None or high < amount):
                raise forms.ValidationError(f"{higher} has a lower limit ({high}); raise it first.")
        return cleaned


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(admin.ModelAdmin):
    form = ApprovalLimitForm
    list_display = ["tier", "amount"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ApprovalRequestInline(admin.TabularInline):
    model = ApprovalRequest
    extra = 0
    can_delete = False
    fields = ["required_tier", "status", "requested_by", "decided_by", "decided_at", "approved_amount", "note", "due_at", "reminded_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ["id", "complaint", "gesture", "cost", "currency", "status", "approved_tier", "suggested", "proposed_by", "created_at"]
    list_filter = ["status", "approved_tier", "suggested", "gesture"]
    search_fields = ["complaint__subject", "gesture__title", "note"]
    list_select_related = ["complaint", "gesture", "proposed_by"]
    date_hierarchy = "created_at"
    inlines = [ApprovalRequestInline]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "offer", "required_tier", "status", "decided_by", "decided_at", "approved_amount", "note", "created_at"]
    list_filter = ["status", "required_tier"]
    search_fields = ["note", "offer__gesture__title", "offer__complaint__subject"]
    list_select_related = ["offer__gesture", "offer__complaint", "decided_by"]
    date_hierarchy = "created_at"


@admin.register(SuggestionLog)
class SuggestionLogAdmin(ReadOnlyAdmin):
    list_display = ["complaint", "rank", "gesture", "score", "chosen", "shown_to", "created_at"]
    list_filter = ["chosen", "rank"]
    list_select_related = ["complaint", "gesture", "shown_to"]
    date_hierarchy = "created_at"
