"""Security glue: for django-axes, whose address a sign-in came from and what a locked-out person sees; for
django-csp, the looser style policy of the third-party pages (browsable API, API docs).

Settings and the reasoning live in docs/operations.md ("Sign-in lockout"); the values come from the environment
(docs/configuration.md).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from csp.constants import UNSAFE_INLINE
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import renderers


def client_ip(request: HttpRequest) -> str | None:
    """The address failed sign-ins are counted against.

    Behind a proxy every request comes from the proxy's address, so one person's typos would lock out everyone.
    With LOGIN_CLIENT_IP_HEADER set (e.g. X-Forwarded-For) the address is read from that header instead: each
    trusted proxy appends the address it saw, so the client is the LOGIN_TRUSTED_PROXIES-th entry from the right.
    Entries further left are whatever the client sent and are never trusted.
    """
    header = settings.LOGIN_CLIENT_IP_META
    if header:
        hops = [hop.strip() for hop in request.META.get(header, "").split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(settings.LOGIN_TRUSTED_PROXIES, len(hops))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # not an address (a misconfigured proxy): count against the connection's address instead
    # None when there is no address at all (the test client's force_login): the attempt logs allow an empty one.
    return request.META.get("REMOTE_ADDR") or None


def _minutes(delta: timedelta | None) -> int:
    return max(1, round(delta.total_seconds() / 60)) if delta else 0


def lockout_message() -> str:
    minutes = _minutes(settings.AXES_COOLOFF_TIME)
    return (
        f"Too many failed sign-ins for this username from your network, so signing in is paused for {minutes} "
        f"minute{'s' if minutes != 1 else ''}. Wait that long without trying (each try starts the wait again), "
        "then sign in with the right password — or ask an administrator to unlock it now."
    )


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials=None) -> HttpResponse:
    """The sign-in page again, with the form and a message saying how long to wait and who can help (429)."""
    username = ""
    if credentials:
        username = credentials.get(settings.AXES_USERNAME_FORM_FIELD, "") or ""
    elif request.method == "POST":
        username = request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout_message": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


# Third-party pages that set styles inline (DRF's browsable API: Bootstrap markup with style="" and Pygments'
# <style>; Swagger UI and ReDoc: React style props and styled-components) may use inline styles. Their scripts
# still come only from our own static files, which is what the policy is for.
THIRD_PARTY_PAGE_POLICY = {"style-src": [UNSAFE_INLINE]}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, with the looser style policy on its HTML pages only (JSON answers carry no styles)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = THIRD_PARTY_PAGE_POLICY
        return super().render(data, accepted_media_type, renderer_context)
