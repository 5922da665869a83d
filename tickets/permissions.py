"""Who may do what. Used by DRF permission classes and by browser views alike."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.permissions import SAFE_METHODS, BasePermission

from tickets.models import ROLE_TIER, TIER_ORDER, ApiKey, Role

# Highest role first: a person in several groups acts with the highest.
ROLE_PRECEDENCE = [Role.EXECUTIVE, Role.MANAGER, Role.LEAD, Role.AGENT]


def user_role(user: Any) -> str | None:
    """The person's support role (agent, lead, manager, executive), or None. Superusers act as executives."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.EXECUTIVE
    cached = getattr(user, "_cx_role", "unset")
    if cached != "unset":
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = next((r.value for r in ROLE_PRECEDENCE if r.value in names), None)
    user._cx_role = role
    return role


def user_tier(user: Any) -> str | None:
    role = user_role(user)
    return ROLE_TIER[role] if role else None


def role_at_least(user: Any, role: str) -> bool:
    """True when the person's role is this role or higher."""
    mine = user_tier(user)
    return mine is not None and TIER_ORDER.index(mine) >= TIER_ORDER.index(ROLE_TIER[role])


PERSON_NEEDED = (
    "This needs a person, and this API key acts for a tool, not a person. Use a key created for a person "
    "(manage.py createapikey --user <username>) or sign in."
)


class ApiAccess(BasePermission):
    """Every caller needs the view's scope or role; a key acting for a person needs both.

    Views set `read_scope` and `write_scope` (ApiKey.Scope values), optionally `min_role` (the lowest role a
    person needs) and `write_min_role`, and `write_needs_person` when a write is a person's decision (a tool's
    key, bound to no user, is then refused).

    A key bound to a user never does more than that user could in the browser: the scope limits the key, the
    user's role limits the person, and both must allow the request.
    """

    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        safe = request.method in SAFE_METHODS
        if isinstance(request.auth, ApiKey):
            scope = getattr(view, "read_scope" if safe else "write_scope", None)
            if scope is None or not request.auth.has_scope(scope):
                self.message = f"This API key lacks the '{scope}' scope needed here." if scope else self.message
                return False
            if request.auth.user_id is None:
                if not safe and getattr(view, "write_needs_person", False):
                    self.message = PERSON_NEEDED
                    return False
                return True
        user = request.user
        if not user or not user.is_authenticated:
            return False
        min_role = getattr(view, "min_role" if safe else "write_min_role", None) or getattr(view, "min_role", Role.AGENT)
        if not role_at_least(user, min_role):
            whose = "The person this API key acts for needs" if isinstance(request.auth, ApiKey) else "This needs"
            self.message = f"{whose} the {Role(min_role).label.lower()} role or higher."
            return False
        return True


def can_manage_integrations(user: Any) -> bool:
    """Managers and executives configure webhooks (settings.WEBHOOKS_MANAGER_CHECK points here)."""
    return role_at_least(user, Role.MANAGER)


def integration_managers() -> list[Any]:
    """The people told when an integration breaks (settings.WEBHOOKS_MANAGERS points here)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    return list(
        users.filter(groups__name__in=[Role.MANAGER, Role.EXECUTIVE]).distinct()
    ) + list(users.filter(is_superuser=True).exclude(groups__name__in=[Role.MANAGER, Role.EXECUTIVE]))


def complaint_change_refusal(user: Any, complaint: Any) -> str | None:
    """Why this person may not change the complaint's status or assignee, or None when they may.

    A complaint assigned to someone else is theirs: only they, or a team lead or above, move it or hand it on.
    Anyone with a role may work an unassigned complaint or one assigned to them; notes are open to everyone.
    The browser's single actions and its bulk actions ask the same question.
    """
    role = user_role(user)
    if role is None:
        return "You need a support role to change complaints."
    if complaint.assignee_id is None or complaint.assignee_id == user.pk or role_at_least(user, Role.LEAD):
        return None
    owner = complaint.assignee
    name = (owner.get_full_name() or owner.get_username()) if owner is not None else "someone else"
    return (
        f"{complaint.reference} is assigned to {name}: only they or a team lead can change its status or assignee. "
        "Add a note instead, or ask a lead to reassign it."
    )


def can_manage_macros(user: Any) -> bool:
    """Team leads, managers and executives write and edit macros; agents use them."""
    return role_at_least(user, Role.LEAD)


def can_share_views(user: Any) -> bool:
    """Team leads and above share queue views with everyone; agents keep private ones."""
    return role_at_least(user, Role.LEAD)


NO_ROLE_MESSAGE = (
    "You are signed in, but your account has no support role yet. "
    "Ask an administrator to add you to the agent, lead, manager or executive group."
)


def role_required(role: str | None = None, *, message: str | None = None) -> Callable:
    """The one role check of every browser view. Signed-out people go to the sign-in page and come back (a
    whole-window redirect from an htmx request); signed-in people without a support role, or below `role`
    when one is given, get a 403 that says what the page needs."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                htmx = getattr(request, "htmx", None)
                if htmx:
                    # A swapped-in sign-in form would land inside the page; send the whole window there.
                    return HttpResponseClientRedirect(redirect_to_login(htmx.current_url_abs_path or "/").url)
                return redirect_to_login(request.get_full_path())
            if role is not None and not role_at_least(request.user, role):
                raise PermissionDenied(message or f"This page needs the {Role(role).label.lower()} role or higher.")
            if user_role(request.user) is None:
                raise PermissionDenied(NO_ROLE_MESSAGE)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


# Every desk page: signed in with a support role.
desk_view = role_required()
