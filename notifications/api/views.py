"""Webhook endpoints over the API: managers' people or keys with the admin scope (tickets.permissions.ApiAccess,
the project's default permission class, reads the scopes and roles named here)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from notifications import selectors, services
from notifications.api import serializers as s
from notifications.models import Delivery, WebhookEndpoint

ADMIN_SCOPE = "admin"
MANAGER_ROLE = "manager"


def _creator(request: Any) -> Any:
    user = request.user
    return user if getattr(user, "pk", None) else None


class WebhookEndpointViewSet(viewsets.GenericViewSet):
    """Subscribe a URL to events; read its deliveries; send again; replay what failed."""

    read_scope = ADMIN_SCOPE
    write_scope = ADMIN_SCOPE
    min_role = MANAGER_ROLE
    serializer_class = s.WebhookEndpointOutput

    def get_queryset(self):
        return selectors.webhook_endpoint_list()

    def get_object(self) -> WebhookEndpoint:
        pk = self.kwargs["pk"]
        endpoint = selectors.webhook_endpoint_get(endpoint_id=int(pk)) if str(pk).isdigit() else None
        if endpoint is None:
            raise NotFound(f"No webhook endpoint with id '{pk}'.")
        return endpoint

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.WebhookEndpointOutput(page, many=True).data)

    @extend_schema(request=s.WebhookEndpointCreateInput, responses={201: s.WebhookEndpointSecretOutput})
    def create(self, request):
        """Subscribe. No `events` (or an empty list) means every event. The answer holds the secret, once."""
        serializer = s.WebhookEndpointCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        # A URL with no real host or an unknown event name: the service's ValidationError answers 422
        # (tickets.api.errors, the API's one exception handler).
        new = services.webhook_endpoint_create(**serializer.validated_data, created_by=_creator(request))
        data = {**s.WebhookEndpointOutput(new.endpoint).data, "secret": new.secret}
        return Response(data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk: str):
        return Response(s.WebhookEndpointOutput(self.get_object()).data)

    @extend_schema(request=s.WebhookEndpointUpdateInput, responses=s.WebhookEndpointOutput)
    def partial_update(self, request, pk: str):
        """Change url, events, description; `active: true` switches a disabled endpoint back on."""
        endpoint = self.get_object()
        serializer = s.WebhookEndpointUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, changes=serializer.validated_data)
        return Response(s.WebhookEndpointOutput(endpoint).data)

    def destroy(self, request, pk: str):
        services.webhook_endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.WebhookEndpointSecretOutput)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk: str):
        """A new secret (shown once); the old one stops working at once."""
        new = services.webhook_endpoint_rotate_secret(endpoint=self.get_object())
        return Response({**s.WebhookEndpointOutput(new.endpoint).data, "secret": new.secret})

    @extend_schema(
        responses=s.DeliveryOutput(many=True),
        parameters=[OpenApiParameter("state", str, enum=Delivery.State.values, description="Only deliveries in this state.")],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk: str):
        """Every delivery to this endpoint, newest first, each with its attempt log."""
        state = request.query_params.get("state") or None
        if state and state not in Delivery.State.values:
            raise ValidationError({"state": [f"Choose one of: {', '.join(Delivery.State.values)}."]})
        page = self.paginate_queryset(selectors.webhook_deliveries(endpoint=self.get_object(), state=state))
        return self.get_paginated_response(s.DeliveryOutput(page, many=True).data)

    @extend_schema(request=None, responses={202: s.DeliveryOutput})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)/resend")
    def resend(self, request, pk: str, delivery_id: str):
        """Send one delivery again now (same webhook-id, so a receiver that already has it can ignore it)."""
        endpoint = self.get_object()
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=int(delivery_id))
        if delivery is None:
            raise NotFound(f"No delivery {delivery_id} on this endpoint.")
        services.delivery_resend(delivery=delivery)
        fresh = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery.pk)
        return Response(s.DeliveryOutput(fresh).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ReplayInput, responses={202: dict})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk: str):
        """Send again every failed delivery of this endpoint created since `since`."""
        serializer = s.ReplayInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = services.webhook_endpoint_replay(endpoint=self.get_object(), since=serializer.validated_data["since"])
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=dict)
    @action(detail=False, methods=["get"], url_path="event-types")
    def event_types(self, request):
        """The event types you can subscribe to, with what each means."""
        from notifications.catalogue import event_types

        return Response({"event_types": event_types()})
