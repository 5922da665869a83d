"""Project-level pages: the landing redirect and a health check."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from tickets.models import Role
from tickets.permissions import NO_ROLE_MESSAGE, user_role


def home(request: HttpRequest) -> HttpResponse:
    """Where `/` leads: sign-in, the queue, or for an executive the approvals."""
    if not request.user.is_authenticated:
        return redirect("login")
    role = user_role(request.user)
    if role is None:
        raise PermissionDenied(NO_ROLE_MESSAGE)
    if role == Role.EXECUTIVE:
        return redirect("recovery:approvals")
    return redirect("tickets:queue")


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (OperationalError, InterfaceError) as exc:
        # A load balancer takes this process out of rotation until the database answers again.
        response = JsonResponse({"status": "database_unavailable", "detail": str(exc)[:200]}, status=503)
        response["Retry-After"] = "10"
        return response
    return JsonResponse({"status": "ok"})
