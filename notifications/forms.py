from __future__ import annotations

from django import forms

from notifications.catalogue import event_types


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=1000, widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/cx"}))
    description = forms.CharField(max_length=500, required=False)
    events = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to receive every event, including ones added later.",
    )
    active = forms.BooleanField(required=False, initial=True, label="Active (deliver events to it)")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(name, f"{name} — {text}") for name, text in event_types().items()]


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label="Failed since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
