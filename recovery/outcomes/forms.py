"""The metrics filter, shared by the dashboard and GET /api/v1/metrics/recovery/."""

from __future__ import annotations

import re
from datetime import date

from django import forms

from recovery.models import Gesture
from recovery.outcomes.config import learning_window_days, window_days
from recovery.outcomes.metrics import MetricsFilter
from tickets.models import Cause, Grade, Tier

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
ALL = [("", "All")]


class MonthField(forms.CharField):
    """A calendar month written YYYY-MM; cleans to its first day."""

    def to_python(self, value: str | None) -> date | None:  # type: ignore[override]
        value = (value or "").strip()
        if not value:
            return None
        match = MONTH_RE.match(value)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 2999:
            raise forms.ValidationError("Write a month as YYYY-MM, for example 2025-03.")
        return date(int(match.group(1)), int(match.group(2)), 1)


class MetricsFilterForm(forms.Form):
    window = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Window")
    cause = forms.ChoiceField(choices=ALL + list(Cause.choices), required=False)
    grade = forms.ChoiceField(choices=ALL + list(Grade.choices), required=False)
    tier = forms.ChoiceField(choices=ALL + list(Tier.choices), required=False)
    gesture = forms.ChoiceField(required=False)
    month_from = MonthField(required=False, label="From month", widget=forms.TextInput(attrs={"type": "month"}))
    month_to = MonthField(required=False, label="To month", widget=forms.TextInput(attrs={"type": "month"}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = learning_window_days()
        self.fields["window"].choices = [
            (days, f"{days} days" + (" (default)" if days == default else "")) for days in window_days()
        ]
        self.fields["window"].initial = default
        self.fields["gesture"].choices = ALL + list(Gesture.objects.order_by("title").values_list("code", "title"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("month_from"), data.get("month_to")
        if start and end and start > end:
            self.add_error("month_to", "The last month comes before the first.")
        return data

    def to_filter(self) -> MetricsFilter:
        """The filter these (valid) parameters ask for."""
        data = self.cleaned_data
        return MetricsFilter(
            window_days=data.get("window") or None,
            cause=data.get("cause") or "",
            grade=data.get("grade") or "",
            gesture=data.get("gesture") or "",
            tier=data.get("tier") or "",
            month_from=data.get("month_from"),
            month_to=data.get("month_to"),
        )
