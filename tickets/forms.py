"""Browser forms of the agent's desk. They validate input; the services do the work."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from tickets import macros
from tickets.models import Cause, Channel, Comment, Customer, Macro, Status
from tickets.services import ComplaintInput, CustomerInput

# The browser logs what an agent heard; "API" is for integrations only.
FORM_CHANNELS = [(value, label) for value, label in Channel.choices if value != Channel.API]
SEVERITY_CHOICES = [
    ("1", "1 · minor annoyance"),
    ("2", "2 · noticeable"),
    ("3", "3 · serious"),
    ("4", "4 · very serious"),
    ("5", "5 · severe (safety, large loss)"),
]
WEB_SOURCE = "web"


class ComplaintLogForm(forms.Form):
    """Log a complaint heard by an agent. Field names match the template's labels and the API's fields."""

    customer_email = forms.EmailField(
        label="Customer email",
        max_length=254,
        help_text="Type at least two letters: existing customers are offered as you type.",
        error_messages={"required": "Give the customer's email, so we can find or create their record."},
        widget=forms.EmailInput(attrs={"autocomplete": "off", "list": "customer-options", "spellcheck": "false"}),
    )
    customer_name = forms.CharField(
        label="Customer name",
        max_length=200,
        required=False,
        help_text="Needed for a new customer; leave empty to keep an existing customer's name.",
    )
    customer_phone = forms.CharField(label="Customer phone", max_length=40, required=False)
    cause = forms.ChoiceField(
        label="Cause", choices=[("", "Choose the cause…"), *Cause.choices],
        error_messages={"required": "Choose what the complaint is about."},
    )
    severity = forms.TypedChoiceField(
        label="Severity", choices=SEVERITY_CHOICES, coerce=int, widget=forms.RadioSelect,
        error_messages={"required": "Choose how severe it is for the customer."},
    )
    channel = forms.ChoiceField(label="Channel", choices=FORM_CHANNELS, initial=Channel.PHONE)
    subject = forms.CharField(
        label="Subject", max_length=200, help_text="One line an agent understands at a glance.",
        error_messages={"required": "Write a one-line subject."},
    )
    description = forms.CharField(
        label="What happened", widget=forms.Textarea(attrs={"rows": 6}), max_length=20_000,
        help_text="In the customer's words where you can.",
        error_messages={"required": "Describe what happened."},
    )
    monetary_loss = forms.DecimalField(
        label="Customer's monetary loss",
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        required=False,
        initial=Decimal("0"),
        help_text=f"In {settings.DEFAULT_CURRENCY}. What the failure cost the customer; 0 if nothing.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    threatens_public = forms.BooleanField(label="Threatens to go public (post, review, press, lawyer)", required=False)
    says_wont_return = forms.BooleanField(label="Says they won't come back", required=False)
    # A fresh id per form: submitting the same form twice (double click, reload) logs one complaint.
    submission_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_customer_email(self) -> str:
        return self.cleaned_data["customer_email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        email = data.get("customer_email")
        # The help text's rule, enforced: a new customer is never saved as "(no name)".
        if email and not (data.get("customer_name") or "").strip() and not Customer.objects.filter(email=email).exists():
            self.add_error(
                "customer_name", "Give the customer's name: there is no customer with this email yet, so a new one is created."
            )
        return data

    def to_input(self) -> ComplaintInput:
        data = self.cleaned_data
        return ComplaintInput(
            customer=CustomerInput(
                email=data["customer_email"],
                name=data["customer_name"].strip() or None,
                phone=data["customer_phone"].strip() or None,
            ),
            fields={
                "cause": data["cause"],
                "severity": data["severity"],
                "channel": data["channel"],
                "subject": data["subject"],
                "description": data["description"].strip(),
                "monetary_loss": data["monetary_loss"] if data["monetary_loss"] is not None else Decimal("0"),
                "threatens_public": data["threatens_public"],
                "says_wont_return": data["says_wont_return"],
            },
            source=WEB_SOURCE,
            external_id=f"form-{data['submission_id']}",
        )

    def apply_domain_error(self, message: str, fields: dict[str, list[str]]) -> None:
        """Show a service's refusal beside the fields it names (or above the form)."""
        mapping = {"customer": "customer_email", "email": "customer_email"}
        placed = False
        for name, errors in fields.items():
            target = mapping.get(name, name)
            if target in self.fields:
                for error in errors:
                    self.add_error(target, error)
                placed = True
        if not placed:
            self.add_error(None, message)


class CommentForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind", choices=Comment.Kind.choices, initial=Comment.Kind.NOTE, widget=forms.RadioSelect
    )
    body = forms.CharField(
        label="Text", widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000,
        error_messages={"required": "Write something before saving."},
    )


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=Status.choices)
    note = forms.CharField(label="Note (optional)", max_length=500, required=False)


class AssignForm(forms.Form):
    """assignee: 'me', a user id, or 'none' to unassign."""

    assignee = forms.CharField(max_length=20, error_messages={"required": "Choose someone to assign."})

    def clean_assignee(self) -> Any:
        value = self.cleaned_data["assignee"].strip()
        if value == "none":
            return None
        if value == "me" or value.isdigit():
            return value
        raise forms.ValidationError("Choose someone to assign.")


class QueueFilterForm(forms.Form):
    """Renders the queue's filter bar. Validation is ComplaintFilter's job (shared with the API); this only draws it."""

    q = forms.CharField(label="Search", required=False, widget=forms.TextInput(attrs={
        "type": "search", "placeholder": "Reference, customer, email or subject", "autocomplete": "off",
    }))
    status = forms.ChoiceField(label="Status", required=False, choices=[
        ("", "All open"), *Status.choices, ("all", "Any status"),
    ])
    cause = forms.ChoiceField(label="Cause", required=False, choices=[("", "Any cause"), *Cause.choices])
    grade = forms.ChoiceField(label="Grade", required=False, choices=[
        ("", "Any grade"), ("ugly", "Ugly"), ("bad", "Bad"), ("neutral", "Neutral"), ("good", "Good"),
    ])
    severity_min = forms.ChoiceField(label="Severity at least", required=False, choices=[
        ("", "Any severity"), *[(str(n), f"{n} or more") for n in range(2, 6)],
    ])
    assignee = forms.ChoiceField(label="Assignee", required=False)
    escalated = forms.ChoiceField(label="Escalated", required=False, choices=[
        ("", "Any tier"), ("true", "Escalated"), ("false", "Frontline only"),
    ])
    overdue = forms.BooleanField(label="Only overdue", required=False, widget=forms.CheckboxInput(attrs={"value": "true"}))
    created_after = forms.DateField(label="Logged from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_before = forms.DateField(label="Logged before", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label="Sort by", required=False, choices=[
        ("", "Most urgent first"),
        ("-created", "Newest first"),
        ("created", "Oldest first"),
        ("due", "Response due soonest"),
        ("-risk", "Highest risk first"),
        ("-severity", "Most severe first"),
        ("-updated", "Recently updated"),
    ])

    def __init__(self, *args: Any, staff: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = [(str(user.pk), user.get_full_name() or user.get_username()) for user in staff or []]
        self.fields["assignee"].choices = [("", "Anyone"), ("me", "Mine"), ("none", "Unassigned"), *people]


class SavedViewForm(forms.Form):
    name = forms.CharField(label="Name of the view", max_length=80, error_messages={"required": "Give the view a name."})
    shared = forms.BooleanField(label="Share with the team", required=False)
    query = forms.CharField(max_length=1000, required=False)


class BulkActionForm(forms.Form):
    ACTIONS = [("assign", "Assign"), ("status", "Change status"), ("tag", "Add a tag")]

    ids = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Tick at least one complaint first."})
    action = forms.ChoiceField(choices=ACTIONS, error_messages={"required": "Choose what to do with the ticked complaints."})
    assignee = forms.CharField(max_length=20, required=False)
    to_status = forms.ChoiceField(choices=[("", "—"), *Status.choices], required=False)
    tag = forms.CharField(max_length=40, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id: the service looks them up; ids of no complaint are simply not there.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit() and 0 < int(value) < 2**63  # type: ignore[method-assign]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if len(data.get("ids") or []) > 100:
            raise forms.ValidationError("At most 100 complaints at a time.")
        if action == "assign":
            value = (data.get("assignee") or "").strip()
            if not (value in {"me", "none"} or value.isdigit()):
                self.add_error("assignee", "Choose who to assign them to.")
        elif action == "status" and not data.get("to_status"):
            self.add_error("to_status", "Choose the status to move them to.")
        elif action == "tag" and not (data.get("tag") or "").strip():
            self.add_error("tag", "Type the tag to add.")
        return data


class MacroForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ["title", "kind", "body", "active"]
        labels = {"title": "Title", "kind": "Inserted as", "body": "Text", "active": "In use (offered on complaint pages)"}
        widgets = {"kind": forms.RadioSelect, "body": forms.Textarea(attrs={"rows": 10})}

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        unknown = macros.unknown_placeholders(body)
        if unknown:
            known = ", ".join("{{" + p.name + "}}" for p in macros.placeholders())
            raise forms.ValidationError(
                f"Unknown placeholder{'s' if len(unknown) > 1 else ''}: "
                + ", ".join("{{" + name + "}}" for name in unknown)
                + f". Use one of {known}."
            )
        return body
