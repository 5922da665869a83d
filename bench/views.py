"""The floors: the least a view in this server can do to store a request body.

`floor` is a bare Django view: same middleware, database connection handling and gunicorn as the
product, but no authentication, no validation, and one INSERT in autocommit. Intake is measured
against it, so the comparison shows the cost of everything the product does on top.

`floor_api` adds only the product's API stack (API-key authentication, scope check, throttle, DRF
parsing and rendering) to the same INSERT; it splits that cost into framework and domain work.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.models import ApiKey


def _insert(body: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_floor (body) VALUES (%s::jsonb) RETURNING id", [json.dumps(body)])
        (row_id,) = cursor.fetchone()
    return row_id


@csrf_exempt
@require_POST
def floor(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "malformed JSON"}, status=400)
    return JsonResponse({"id": _insert(body)}, status=201)


class FloorApiView(APIView):
    # The scopes tickets.permissions.ApiAccess checks, as on the complaints endpoint.
    read_scope = ApiKey.Scope.COMPLAINTS_READ
    write_scope = ApiKey.Scope.COMPLAINTS_WRITE

    def post(self, request: Request) -> Response:
        return Response({"id": _insert(request.data)}, status=201)


floor_api = FloorApiView.as_view()
