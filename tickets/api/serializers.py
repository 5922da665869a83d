"""Input and output shapes of the tickets API. The field names are a contract with integrators."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.api.schema import ErrorDetailSerializer
from tickets.api.strict import StrictInput
from tickets.errors import Unprocessable
from tickets.models import (
    MAX_SOCIAL_REACH,
    Cause,
    Channel,
    Comment,
    Complaint,
    Customer,
    Status,
    Tier,
    TimelineEvent,
)
from tickets.services import MAX_LOG_BATCH, ComplaintInput, CustomerInput
from tickets.validators import EMAIL_MAX_LENGTH, EMAIL_MESSAGE, validate_email_address

SOURCE_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0")}


class CustomerInputSerializer(StrictInput):
    """The customer: give an email or an external_id (at least one, not blank; 422 otherwise)."""

    email = serializers.EmailField(
        max_length=EMAIL_MAX_LENGTH,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[validate_email_address],
        error_messages={"invalid": EMAIL_MESSAGE},
    )
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    lifetime_value = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    social_reach = serializers.IntegerField(min_value=0, max_value=MAX_SOCIAL_REACH, required=False, allow_null=True)

    def validate(self, attrs):
        # Well-formed but nobody to attach it to: 422. (As an anyOf in the schema this rule would cost generated
        # clients the customer's other fields, so it is stated in the description instead.)
        if not attrs.get("email") and not attrs.get("external_id"):
            raise Unprocessable(
                "Tell us who complained: give the customer's email or their id in your system (external_id).",
                fields={"customer": ["Give the customer's email or their id in your system (external_id)."]},
            )
        return attrs

    def to_input(self, data: dict) -> CustomerInput:
        return CustomerInput(
            email=data.get("email") or None,
            external_id=data.get("external_id") or None,
            name=data.get("name"),
            phone=data.get("phone"),
            lifetime_value=data.get("lifetime_value"),
            social_reach=data.get("social_reach"),
        )


class ComplaintCreateInput(StrictInput):
    openapi_request_extra = {"properties": {"source": {"type": "string", "maxLength": 50, "pattern": r"^[A-Za-z0-9_.:-]*$"}}}

    customer = CustomerInputSerializer()
    cause = serializers.ChoiceField(choices=Cause.choices)
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    severity = serializers.IntegerField(min_value=1, max_value=5)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    monetary_loss = serializers.DecimalField(**MONEY, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, error_messages={"invalid": "Use a three-letter ISO currency code such as GBP."})
    threatens_public = serializers.BooleanField(required=False)
    says_wont_return = serializers.BooleanField(required=False)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_source(self, value: str) -> str:
        if value and not SOURCE_RE.match(value):
            raise serializers.ValidationError("Use letters, digits and . _ : - only, for example 'zendesk'.")
        return value.lower()

    def validate(self, attrs):
        # After the fields are well-formed (400 otherwise): a time in the future is refused by the domain (422).
        occurred_at = attrs.get("occurred_at")
        if occurred_at and occurred_at > timezone.now() + timezone.timedelta(hours=1):
            raise Unprocessable(
                "occurred_at is in the future; give the time the problem happened.",
                fields={"occurred_at": ["This is in the future; give the time the problem happened."]},
            )
        return attrs

    def to_input(self) -> ComplaintInput:
        return self.input_from(self.validated_data)

    def input_from(self, validated: dict) -> ComplaintInput:
        """The service's input from validated data (of this serializer's is_valid or run_validation)."""
        data = dict(validated)
        customer = self.fields["customer"].to_input(data.pop("customer"))
        source = data.pop("source", "") or ""
        external_id = data.pop("external_id", None) or None
        data.setdefault("channel", Channel.API)
        return ComplaintInput(customer=customer, fields=data, source=source, external_id=external_id)


class ComplaintBatchItemInput(ComplaintCreateInput):
    """One complaint of a batch: as for POST /complaints/, and external_id is required (it makes a replayed batch
    create nothing twice)."""

    external_id = serializers.CharField(max_length=200)


class ComplaintBatchInput(StrictInput):
    # Each item is checked on its own and answered in the results (a bad one does not refuse the batch), so the
    # schema promises only the list: an item of any shape is part of a valid request.
    openapi_request_extra = {
        "properties": {
            "complaints": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_LOG_BATCH,
                "items": {
                    "description": "A complaint as POST /api/v1/complaints/ takes it (ComplaintCreateInput), with "
                    "external_id required. An item that is not gets its errors in the results (status 400 or 422)."
                },
                "description": f"1 to {MAX_LOG_BATCH:,} complaints. Each is checked on its own: a bad one gets its "
                "errors in the results, the good ones are kept.",
            }
        }
    }
    complaints = ComplaintBatchItemInput(
        many=True, min_length=1, max_length=MAX_LOG_BATCH,
        help_text=f"1 to {MAX_LOG_BATCH:,} complaints. Each is checked on its own: a bad one gets its errors in "
        "the results, the good ones are kept.",
    )


@extend_schema_field({"type": "integer", "enum": [200, 201, 400, 422]})
class BatchStatusField(serializers.IntegerField):
    pass


class ComplaintBatchResultOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the complaint in the request's list, from 0.")
    status = BatchStatusField(
        help_text="As POST /complaints/ would answer this complaint: 201 created, 200 already known (by source "
        "and external_id; changed details are applied), 400 a field needs fixing, 422 refused by a rule."
    )
    reference = serializers.CharField(allow_null=True, help_text="The complaint's reference; null when refused.")
    error = ErrorDetailSerializer(allow_null=True, help_text="Why it was refused (400, 422); null otherwise.")


class ComplaintBatchOutput(serializers.Serializer):
    created = serializers.IntegerField(help_text="Complaints created (status 201).")
    existing = serializers.IntegerField(help_text="Complaints already known (status 200).")
    failed = serializers.IntegerField(help_text="Complaints refused (status 400 or 422); nothing was stored for them.")
    results = ComplaintBatchResultOutput(many=True, help_text="One per complaint sent, in the same order.")


class ComplaintUpdateInput(StrictInput):
    openapi_request_extra = {"minProperties": 1}  # an empty PATCH changes nothing and is refused

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    status_note = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    assignee = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    cause = serializers.ChoiceField(choices=Cause.choices, required=False)
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
    monetary_loss = serializers.DecimalField(**MONEY, required=False)
    threatens_public = serializers.BooleanField(required=False)
    says_wont_return = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.SlugField(max_length=40), max_length=20, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs


class AnswerSerializer(serializers.Serializer):
    """An answer-only serializer whose fields are built and bound once per class, then reused by every instance.

    DRF deep-copies each declared field for every serializer instance; for a single complaint's answer that copy is
    most of the serialising time. The shared fields are bound to the first instance: fine for answers, whose fields
    keep no per-request state and read no context (no request, no hyperlinks). Never use it for input."""

    @property
    def fields(self):  # type: ignore[override]
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = serializers.Serializer.fields.func(self)  # DRF's own build (a cached_property)
            cls._shared_fields = shared
        return shared


class UserRefOutput(AnswerSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


# The two output shapes of intake and the complaint list are declared field by field: a ModelSerializer builds
# its fields from the model on every instance (about 2 ms of each intake request). The declarations are what
# ModelSerializer derived, so the OpenAPI schema is unchanged (tests/tickets/test_api_contract.py).
class CustomerSummaryOutput(AnswerSerializer):
    id = serializers.BigIntegerField(label="ID", read_only=True)
    name = serializers.CharField(allow_blank=True, max_length=200, required=False)
    email = serializers.EmailField(allow_blank=True, allow_null=True, max_length=254, required=False)
    phone = serializers.CharField(allow_blank=True, max_length=40, required=False)
    lifetime_value = serializers.DecimalField(decimal_places=2, max_digits=12, required=False)
    social_reach = serializers.IntegerField(max_value=MAX_SOCIAL_REACH, min_value=0, required=False)


class ComplaintOutput(AnswerSerializer):
    reference = serializers.CharField(read_only=True)
    customer = CustomerSummaryOutput(read_only=True)
    cause = serializers.ChoiceField(choices=Cause.choices)
    severity = serializers.IntegerField(max_value=5, min_value=1)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    monetary_loss = serializers.DecimalField(decimal_places=2, max_digits=12, required=False)
    currency = serializers.CharField(max_length=3, required=False)
    threatens_public = serializers.BooleanField(required=False)
    says_wont_return = serializers.BooleanField(required=False)
    source = serializers.CharField(allow_blank=True, default="", max_length=50, required=False)
    external_id = serializers.CharField(allow_blank=True, allow_null=True, default=None, max_length=200, required=False)
    occurred_at = serializers.DateTimeField(allow_null=True, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    allowed_transitions = serializers.ListField(child=serializers.CharField(), read_only=True)
    grade = serializers.SerializerMethodField()
    risk_score = serializers.IntegerField(allow_null=True, max_value=9223372036854775807, min_value=0, required=False)
    grade_reasons = serializers.JSONField(read_only=True)
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    tags = serializers.JSONField(required=False)
    assignee = UserRefOutput(read_only=True, allow_null=True)
    response_due_at = serializers.DateTimeField(allow_null=True, required=False)
    resolution_due_at = serializers.DateTimeField(allow_null=True, required=False)
    first_response_at = serializers.DateTimeField(allow_null=True, required=False)
    resolved_at = serializers.DateTimeField(allow_null=True, required=False)
    closed_at = serializers.DateTimeField(allow_null=True, required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_grade(self, complaint) -> str | None:
        return complaint.grade or None


class TimelineEventOutput(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "message", "actor", "data", "created_at"]

    def get_actor(self, event) -> dict:
        return {"type": event.actor_type, "label": event.actor_label, "user_id": event.actor_user_id}


class CommentInput(StrictInput):
    kind = serializers.ChoiceField(choices=Comment.Kind.choices, default=Comment.Kind.NOTE)
    body = serializers.CharField(max_length=20_000)


class CommentOutput(serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = [
            "id", "kind", "body", "author_label", "created_at",
            "delivery_channel", "delivery_state", "delivery_error", "delivered_at",
        ]


class CustomerReferenceOutput(serializers.Serializer):
    source = serializers.CharField()
    external_id = serializers.CharField()


class CustomerOutput(serializers.ModelSerializer):
    references = CustomerReferenceOutput(many=True, read_only=True)
    complaint_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "lifetime_value",
            "social_reach",
            "segment",
            "references",
            "complaint_count",
            "created_at",
        ]


class CustomerComplaintOutput(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)

    class Meta:
        model = Complaint
        fields = ["reference", "subject", "cause", "status", "grade", "created_at", "resolved_at"]


class CustomerDetailOutput(CustomerOutput):
    complaints = CustomerComplaintOutput(many=True, read_only=True)
    complaint_count = serializers.SerializerMethodField()

    class Meta(CustomerOutput.Meta):
        fields = [*CustomerOutput.Meta.fields, "complaints"]

    def get_complaint_count(self, customer) -> int:
        return len(customer.complaints.all())
