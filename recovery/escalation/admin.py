"""Admin for grading and escalation. Rules and grading settings save through the services (same validation
as the API and the browser pages); assessments, escalations, firings, clocks and backtests are read-only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages

from recovery.escalation import services
from recovery.escalation.grading import GradingConfig, GradingConfigError
from recovery.escalation.rules import RuleValidationError, validate_rule
from recovery.escalation.selectors import rule_as_dict
from recovery.models import Assessment, BacktestRun, Escalation, EscalationRule, GradingSettings, RuleFiring, SlaClock
from tickets.actors import ActorRef


class EscalationRuleAdminForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = ["name", "order", "active", "match", "conditions", "actions", "stop_processing", "time_based"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        raw = {name: cleaned.get(name) for name in self.Meta.fields}
        raw["id"] = self.instance.pk
        try:
            validate_rule(raw)
        except RuleValidationError as exc:
            for path, problems in exc.errors.items():
                field = path.split("[")[0].split(".")[0]
                target = field if field in self.fields else None
                for problem in problems:
                    self.add_error(target, f"{path}: {problem}" if target != path else problem)
        return cleaned


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    form = EscalationRuleAdminForm
    list_display = ("name", "order", "active", "time_based", "stop_processing", "updated_at", "updated_by")
    list_editable = ("order", "active")
    list_filter = ("active", "time_based")
    search_fields = ("name",)
    actions = ["activate", "deactivate"]

    def save_model(self, request, obj, form, change):
        actor = ActorRef.from_request(request)
        data = {name: form.cleaned_data[name] for name in EscalationRuleAdminForm.Meta.fields if name in form.cleaned_data}
        if change:
            current = EscalationRule.objects.get(pk=obj.pk)
            merged = {**rule_as_dict(current), **data}
            saved = services.rule_update(rule=current, changes=merged, actor=actor)
        else:
            saved = services.rule_create(data=data, actor=actor)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.rule_delete(rule=obj, actor=ActorRef.from_request(request))

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.rule_delete(rule=rule, actor=ActorRef.from_request(request))

    def _set_active(self, request, queryset, active: bool) -> None:
        for rule in queryset:
            services.rule_update(rule=rule, changes={"active": active}, actor=ActorRef.from_request(request))
        messages.success(request, f"{queryset.count()} rule(s) {'activated' if active else 'deactivated'}.")

    @admin.action(description="Activate the selected rules")
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate the selected rules")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)


class GradingSettingsAdminForm(forms.ModelForm):
    class Meta:
        model = GradingSettings
        fields = ["config"]
        help_texts = {"config": "Any GradingConfig keys as JSON; missing keys keep their default. {} means all defaults."}

    def clean_config(self) -> Any:
        config = self.cleaned_data.get("config") or {}
        try:
            GradingConfig.from_dict(config)
        except GradingConfigError as exc:
            raise forms.ValidationError([f"{k}: {m}" for k, msgs in exc.errors.items() for m in msgs]) from None
        return config


@admin.register(GradingSettings)
class GradingSettingsAdmin(admin.ModelAdmin):
    form = GradingSettingsAdminForm
    list_display = ("__str__", "updated_at", "updated_by")
    readonly_fields = ("effective", "updated_at", "updated_by")

    @admin.display(description="Effective settings (with defaults)")
    def effective(self, obj: GradingSettings) -> str:
        try:
            return json.dumps(GradingConfig.from_dict(obj.config or {}).to_dict(), indent=2)
        except GradingConfigError as exc:
            return f"Invalid: {exc}"

    def has_add_permission(self, request) -> bool:
        return not GradingSettings.objects.exists()

    def save_model(self, request, obj, form, change):
        saved = services.grading_settings_update(config=form.cleaned_data["config"], actor=ActorRef.from_request(request))
        obj.pk = saved.pk


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "grade", "score", "trigger", "created_at")
    list_filter = ("grade", "trigger")
    list_select_related = ("complaint",)
    search_fields = ("complaint__subject",)
    show_full_result_count = False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "from_tier", "tier", "status", "ack_due_at", "acknowledged_by", "created_at")
    list_filter = ("tier", "status")
    list_select_related = ("complaint", "acknowledged_by")
    show_full_result_count = False


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "rule", "fired_at")
    list_select_related = ("complaint", "rule")


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "paused_at", "paused_seconds")
    list_select_related = ("complaint",)


@admin.register(BacktestRun)
class BacktestRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_by", "days", "status", "progress", "created_at", "finished_at")
    list_filter = ("status",)
