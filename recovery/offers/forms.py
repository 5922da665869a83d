"""Browser forms of the playbook, offers and approvals. They check shape and ranges; the services decide."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from recovery.models import Gesture, ResourceKind
from recovery.offers.services.playbook import GESTURE_FIELDS
from tickets.models import Cause, Grade, Tier

SURPRISE_CHOICES = [
    (0, "0 — the expected remedy"),
    (1, "1 — an upgrade, a little more than expected"),
    (2, "2 — unexpected"),
    (3, "3 — personal, from a senior person"),
]
MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0")}


class GestureForm(forms.ModelForm):
    causes = forms.MultipleChoiceField(
        choices=Cause.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The complaint causes this gesture repays. It is only suggested for these.",
    )
    surprise = forms.TypedChoiceField(choices=SURPRISE_CHOICES, coerce=int)
    resource_kind = forms.ChoiceField(choices=ResourceKind.choices, label="Kind of resource")
    min_grade = forms.ChoiceField(
        choices=Grade.choices, label="Minimum grade", help_text="Kept for complaints graded this bad or worse."
    )
    approval_tier = forms.ChoiceField(
        choices=Tier.choices, help_text="The lowest tier that may approve it, whatever it costs."
    )
    cost = forms.DecimalField(**MONEY, help_text="What it costs the company.")
    perceived_value = forms.DecimalField(**MONEY, label="Perceived value to the customer")
    per_customer_per_year = forms.IntegerField(min_value=1, max_value=365, label="At most, per customer per year")
    cost_pct_of_loss = forms.DecimalField(
        max_digits=6,
        decimal_places=2,
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000"),
        label="Cost as % of the customer's loss",
        help_text="For refunds and credit sized to the loss (e.g. 150). When set, cost and perceived value are "
        "worked out per complaint.",
    )

    class Meta:
        model = Gesture
        # The service's editable fields, with the title first on the form.
        fields = ["title", *(name for name in GESTURE_FIELDS if name != "title")]
        labels = {
            "equivalence_group": "Equally good as (group name)",
            "code": "Code",
            "script": "Script for the agent",
        }
        help_texts = {
            "code": "Short and stable, letters, digits, - and _; integrations use it.",
        }
        widgets = {"script": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Offers and integrations refer to the code; renaming it would orphan their references.
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "Fixed once the gesture exists."

    def clean_script(self) -> str:
        script = (self.cleaned_data.get("script") or "").strip()
        if len(script) < 20:
            raise forms.ValidationError("Write what the agent says and does, in a sentence or two.")
        return script


class ApprovalLimitsForm(forms.Form):
    """One amount per tier; empty means no limit."""

    def __init__(self, *args: Any, limits: dict[str, Decimal | None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for value, label in Tier.choices:
            self.fields[value] = forms.DecimalField(
                **MONEY,
                required=False,
                label=label,
                initial=(limits or {}).get(value),
                help_text="Empty: no limit.",
            )


class OfferForm(forms.Form):
    gesture = forms.ModelChoiceField(queryset=Gesture.objects.none(), empty_label="Choose a gesture…")
    cost = forms.DecimalField(**MONEY, required=False, help_text="Leave empty for the playbook's cost for this customer.")
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Inactive gestures may still arrive from a stale page; the service refuses them with a clear message.
        self.fields["gesture"].queryset = Gesture.objects.all()


class FulfilForm(forms.Form):
    note = forms.CharField(max_length=2000, required=False)
    resolve_complaint = forms.BooleanField(required=False)


class DeclineForm(forms.Form):
    note = forms.CharField(max_length=2000, required=False)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    amount = forms.DecimalField(**MONEY, required=False)
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
