from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint

# The schema states the scheme only (a pattern read alike by Python and JSON Schema); the full check (a real
# host name or address) is the service's, answered 422.
HTTP_URL = RegexValidator(r"^https?://", "Give a full http:// or https:// URL, e.g. https://example.com/hooks/cx.")


class WebhookEndpointCreateInput(serializers.Serializer):
    url = serializers.CharField(max_length=1000, validators=[HTTP_URL])
    events = serializers.ListField(child=serializers.CharField(max_length=60, allow_blank=True), required=False, allow_empty=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class WebhookEndpointUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=1000, required=False, validators=[HTTP_URL])
    events = serializers.ListField(child=serializers.CharField(max_length=60, allow_blank=True), required=False, allow_empty=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookEndpointOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "disabled_reason", "failing_since", "created_at", "updated_at"]


class WebhookEndpointSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="whsec_… — shown only in this answer; keep it to verify signatures.")

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class ReplayInput(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Send again every failed delivery created at or after this time.")


class DeliveryAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "latency_ms", "status_code", "success", "error", "response_excerpt"]


class DeliveryOutput(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="event.msg_id")
    type = serializers.CharField(source="event.type")
    body = serializers.JSONField(source="event.body")
    attempt_log = DeliveryAttemptOutput(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "webhook_id", "type", "state", "attempts", "next_attempt_at", "last_attempt_at", "last_status_code",
            "last_error", "succeeded_at", "created_at", "body", "attempt_log",
        ]
