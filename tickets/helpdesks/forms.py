from __future__ import annotations

from typing import Any

from django import forms

from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery, HelpdeskKind
from tickets.models import Cause, Status


class ConnectionCreateForm(forms.Form):
    kind = forms.ChoiceField(label="Helpdesk", choices=HelpdeskKind.choices)
    name = forms.CharField(
        label="Name",
        max_length=50,
        help_text="Becomes the complaints' source, e.g. zendesk-eu. Letters, digits, dots, dashes.",
    )
    secret = forms.CharField(
        label="Secret (optional)",
        required=False,
        max_length=200,
        help_text="Leave empty and we generate one. For Zendesk paste the webhook's signing secret.",
        widget=forms.PasswordInput(render_value=False),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name or any(not (c.isalnum() or c in "._-") for c in name):
            raise forms.ValidationError("Use letters, digits, dots, dashes or underscores only.")
        return name


class SecretForm(forms.Form):
    secret = forms.CharField(
        label="New secret", max_length=200, widget=forms.PasswordInput(render_value=False),
        help_text="For Zendesk: the webhook's signing secret.",
    )
    keep_current = forms.BooleanField(
        label="Keep the current secret too", required=False,
        help_text="For a second Zendesk webhook (trigger webhooks have their own signing secret), or while rotating. "
        "Unticked, the old secret stops working at once.",
    )


class ApiForm(forms.Form):
    """Write-back settings: where the helpdesk's API is and how to sign in to it."""

    api_url = forms.CharField(
        label="API address", required=False, max_length=500,
        help_text="Zendesk https://yourco.zendesk.com · Freshdesk https://yourco.freshdesk.com · "
        "Zammad https://zammad.yourco.com · Help Scout: leave empty (https://api.helpscout.net).",
    )
    api_user = forms.CharField(
        label="API user", required=False, max_length=254,
        help_text="Zendesk: the agent's email address. Help Scout: the OAuth app's App ID. Others: leave empty.",
    )
    api_token = forms.CharField(
        label="API token", required=False, max_length=500, widget=forms.PasswordInput(render_value=False),
        help_text="Zendesk API token · Freshdesk API key · Zammad access token · Help Scout App Secret. "
        "Leave empty to keep the stored one.",
    )
    clear = forms.BooleanField(label="Switch write-back off and forget the credentials", required=False)


def _lines(mapping: dict[str, Any]) -> str:
    return "\n".join(f"{key} = {value}" for key, value in sorted(mapping.items()))


def _parse_lines(text: str, field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise forms.ValidationError(f"Line {number}: write it as “helpdesk value = our value”.")
        out[key.strip().lower()] = value.strip()
    return out


class MappingForm(forms.Form):
    active = forms.BooleanField(label="Active (accept deliveries)", required=False)
    cause_map = forms.CharField(
        label="Cause from tags", required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One per line: tag = cause. Causes: " + ", ".join(Cause.values) + ".",
    )
    cause_field = forms.CharField(
        label="Cause from custom field", required=False, max_length=100,
        help_text="A custom field's name or id whose value is a cause (or a tag word above). Checked before tags.",
    )
    default_cause = forms.ChoiceField(label="Cause when nothing matches", choices=Cause.choices)
    severity_map = forms.CharField(
        label="Severity from priority", required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One per line: priority = severity 1–5.",
    )
    default_severity = forms.IntegerField(label="Severity when no priority", min_value=1, max_value=5)
    status_map = forms.CharField(
        label="Our status from the helpdesk's", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: helpdesk status = " + ", ".join(Status.values) + ". Unmapped ones are noted only.",
    )

    @classmethod
    def for_connection(cls, connection: HelpdeskConnection, data: Any = None) -> MappingForm:
        initial = {
            "active": connection.active,
            "cause_map": _lines(connection.cause_map or {}),
            "cause_field": connection.cause_field,
            "default_cause": connection.default_cause,
            "severity_map": _lines(connection.severity_map or {}),
            "default_severity": connection.default_severity,
            "status_map": _lines(connection.status_map or {}),
        }
        return cls(data=data, initial=initial)

    def clean_cause_map(self) -> dict[str, str]:
        mapping = _parse_lines(self.cleaned_data["cause_map"], "cause_map")
        bad = sorted({v for v in mapping.values() if v not in Cause.values})
        if bad:
            raise forms.ValidationError(f"Unknown cause: {', '.join(bad)}. Use one of: {', '.join(Cause.values)}.")
        return mapping

    def clean_severity_map(self) -> dict[str, int]:
        mapping = _parse_lines(self.cleaned_data["severity_map"], "severity_map")
        out: dict[str, int] = {}
        for key, value in mapping.items():
            if not value.isdigit() or not 1 <= int(value) <= 5:
                raise forms.ValidationError(f"“{key}”: severity must be a number from 1 to 5.")
            out[key] = int(value)
        return out

    def clean_status_map(self) -> dict[str, str]:
        mapping = _parse_lines(self.cleaned_data["status_map"], "status_map")
        bad = sorted({v for v in mapping.values() if v not in Status.values})
        if bad:
            raise forms.ValidationError(f"Unknown status: {', '.join(bad)}. Use one of: {', '.join(Status.values)}.")
        return mapping


class DeliveryFilterForm(forms.Form):
    result = forms.ChoiceField(
        label="Result", required=False, choices=[("", "All results"), *HelpdeskDelivery.Result.choices]
    )
