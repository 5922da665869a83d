"""Thin API views: parse input, call a service or selector, shape the output."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from tickets import selectors, services
from tickets.actors import ActorRef
from tickets.api import serializers as s
from tickets.api.answers import complaint_answer
from tickets.api.errors import error_body, validation_error_detail
from tickets.api.filtering import ApiFilterBackend
from tickets.errors import Unprocessable
from tickets.filters import ComplaintFilter, CustomerFilter
from tickets.idempotency import idempotent
from tickets.models import ApiKey, Complaint
from tickets.permissions import complaint_change_refusal

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string (≤255 chars). Repeating the request with the same key and body returns the first answer.",
)


class ComplaintViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Complaints: log, list, read, update, and read the timeline."""

    read_scope = ApiKey.Scope.COMPLAINTS_READ
    write_scope = ApiKey.Scope.COMPLAINTS_WRITE
    serializer_class = s.ComplaintOutput
    filter_backends = [ApiFilterBackend, OrderingFilter]
    filterset_class = ComplaintFilter
    ordering_fields = ["created_at", "updated_at", "severity", "risk_score"]
    ordering = ["-created_at", "-id"]
    lookup_field = "reference"
    lookup_value_regex = r"[A-Za-z0-9-]+"

    def get_queryset(self):
        return selectors.complaint_list()

    def get_object(self) -> Complaint:
        complaint = selectors.complaint_get(reference=self.kwargs["reference"])
        if complaint is None:
            raise NotFound(f"No complaint with reference '{self.kwargs['reference']}'.")
        return complaint

    @extend_schema(request=s.ComplaintCreateInput, responses={200: s.ComplaintOutput, 201: s.ComplaintOutput}, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request):
        """Log a complaint. 201 when created; 200 with the existing complaint for a repeated (source, external_id)."""

        def handle() -> Response:
            validator = _create_validator()
            data = validator.input_from(validator.run_validation(request.data))
            result = services.complaint_log(data=data, actor=ActorRef.from_request(request))
            code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            # Answered from the complaint as written: no read-back. Its grade is null until the assessment, queued on
            # commit, has run (GET it, or subscribe to complaint.graded).
            return Response(complaint_answer(result.complaint), status=code)

        return idempotent(request, handle)

    @extend_schema(
        request=s.ComplaintBatchInput, responses={200: s.ComplaintBatchOutput}, parameters=[IDEMPOTENCY_HEADER],
        summary="Log up to 1,000 complaints at once",
    )
    @action(detail=False, methods=["post"], url_path="batch", filter_backends=[], pagination_class=None)
    def batch(self, request):
        """Log up to 1,000 complaints, each with its own (source, external_id). 200 with one result per complaint
        (index, status, reference, error): the good ones are stored, a bad one gets its errors in the same shape as
        POST /complaints/. A replayed batch creates nothing twice. 400 for a body that is not such a list."""

        def handle() -> Response:
            items = _batch_items(request.data)
            validator = s.ComplaintBatchItemInput()
            results: list[dict | None] = [None] * len(items)
            good: list[tuple[int, Any]] = []
            for index, item in enumerate(items):
                try:
                    good.append((index, validator.input_from(validator.run_validation(item))))
                except ValidationError as exc:
                    results[index] = _batch_failure(index, 400, validation_error_detail(exc.detail))
                except Unprocessable as exc:
                    detail = error_body(exc.code, exc.message, exc.fields or None)["error"]
                    results[index] = _batch_failure(index, 422, detail)
            logged = services.complaints_log_batch(items=[data for _, data in good], actor=ActorRef.from_request(request))
            for (index, _), result in zip(good, logged, strict=True):
                results[index] = {
                    "index": index, "status": 201 if result.created else 200,
                    "reference": result.complaint.reference, "error": None,
                }
            statuses = [r["status"] for r in results]
            body = {
                "created": statuses.count(201), "existing": statuses.count(200),
                "failed": len(statuses) - statuses.count(201) - statuses.count(200), "results": results,
            }
            return Response(body, status=status.HTTP_200_OK)

        return idempotent(request, handle)

    def retrieve(self, request, reference: str):
        return Response(complaint_answer(self.get_object()))

    @extend_schema(request=s.ComplaintUpdateInput, responses=s.ComplaintOutput)
    def partial_update(self, request, reference: str):
        """Change details, assignee or status. Status moves only along the transition table (409 otherwise).

        A key bound to a person may change the status or assignee of a complaint assigned to someone else only
        when that person is a team lead or above (403 otherwise, as in the browser); details and notes stay open.
        """
        complaint = self.get_object()
        serializer = s.ComplaintUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        actor = ActorRef.from_request(request)
        if actor.user is not None and ("status" in data or "assignee" in data):
            # A key that acts for a person follows that person's rule, as in the browser: a complaint assigned to
            # someone else is moved or handed on only by them or a lead. A tool's key acts for no one and may.
            refusal = complaint_change_refusal(actor.user, complaint)
            if refusal:
                raise PermissionDenied(refusal)
        with transaction.atomic():
            new_status = data.pop("status", None)
            note = data.pop("status_note", "")
            if "assignee" in data:
                assignee_id = data.pop("assignee")
                assignee = services.staff_user_get(user_id=assignee_id) if assignee_id else None
                services.complaint_assign(complaint=complaint, assignee=assignee, actor=actor)
            if data:
                services.complaint_update(complaint=complaint, changes=data, actor=actor)
            if new_status:
                services.complaint_transition(complaint=complaint, to_status=new_status, actor=actor, note=note)
        return Response(complaint_answer(self.get_object()))

    @extend_schema(responses=s.TimelineEventOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, reference: str):
        """Every change to the complaint, newest first."""
        events = selectors.complaint_timeline(complaint=self.get_object())
        page = self.paginate_queryset(events)
        return self.get_paginated_response(s.TimelineEventOutput(page, many=True).data)

    @extend_schema(methods=["GET"], responses=s.CommentOutput(many=True))
    @extend_schema(methods=["POST"], request=s.CommentInput, responses={201: s.CommentOutput})
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def comments(self, request, reference: str):
        """Internal notes and replies. POST adds one."""
        complaint = self.get_object()
        if request.method == "POST":
            serializer = s.CommentInput(data=request.data)
            serializer.is_valid(raise_exception=True)
            comment = services.comment_add(complaint=complaint, actor=ActorRef.from_request(request), **serializer.validated_data)
            return Response(s.CommentOutput(comment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.complaint_comments(complaint=complaint))
        return self.get_paginated_response(s.CommentOutput(page, many=True).data)


_validators = threading.local()


def _create_validator() -> s.ComplaintCreateInput:
    """One intake validator per thread, reused: a new serializer deep-copies every declared field (the nested
    customer's too) on each request. run_validation checks the same way and raises the same errors as is_valid."""
    validator = getattr(_validators, "create", None)
    if validator is None:
        validator = _validators.create = s.ComplaintCreateInput()
    return validator


def _batch_items(data: Any) -> list[Any]:
    """The list of a batch body, or a 400 that says what to send."""
    items = data.get("complaints") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValidationError({"complaints": [
            f'Send {{"complaints": [...]}}: a list of 1 to {services.MAX_LOG_BATCH:,} complaints.'
        ]})
    if not items:
        raise ValidationError({"complaints": ["Send at least one complaint."]})
    if len(items) > services.MAX_LOG_BATCH:
        raise ValidationError({"complaints": [
            f"A batch holds at most {services.MAX_LOG_BATCH:,} complaints; this one has {len(items):,}. "
            f"Split it into batches of {services.MAX_LOG_BATCH:,} or fewer."
        ]})
    return items


def _batch_failure(index: int, code: int, error: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "status": code, "reference": None, "error": error}


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Customers with their references in other systems."""

    read_scope = ApiKey.Scope.CUSTOMERS_READ
    write_scope = None
    serializer_class = s.CustomerOutput
    filterset_class = CustomerFilter

    def get_queryset(self):
        return selectors.customer_list()

    @extend_schema(responses=s.CustomerDetailOutput)
    def retrieve(self, request, pk: str):
        customer = selectors.customer_get(customer_id=int(pk)) if str(pk).isdigit() else None
        if customer is None:
            raise NotFound(f"No customer with id '{pk}'.")
        return Response(s.CustomerDetailOutput(customer).data)


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any path under /api/ that no route claims: the JSON error shape, never Django's HTML 404 page."""
    message = f"There is no API endpoint at {request.path}."
    if not request.path.endswith("/"):
        with_slash = request.path + "/"
        try:
            match = resolve(with_slash)
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" API paths end with a slash: {with_slash}"
    return JsonResponse(error_body("not_found", message + " See /api/v1/docs/."), status=404)
