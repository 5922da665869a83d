"""The header navigation, built from one list of (label, URL name, lowest role).

Pages of later issues appear in the header as soon as their URL name exists: names that do not resolve
yet are skipped. Everything is computed lazily, so partial (htmx) responses that never draw the header
cost no queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from notifications.selectors import notification_unread_count
from tickets.models import Role
from tickets.permissions import role_at_least, user_role

NAV_ITEMS: list[tuple[str, str, str]] = [
    ("Queue", "tickets:queue", Role.AGENT),
    ("Log complaint", "tickets:new", Role.AGENT),
    ("Escalations", "recovery:escalations", Role.LEAD),
    ("Macros", "tickets:macros", Role.LEAD),
    ("Approvals", "recovery:approvals", Role.MANAGER),
    ("Playbook", "recovery:playbook", Role.MANAGER),
    ("Dashboard", "recovery:dashboard", Role.MANAGER),
    ("Rules", "recovery:rules", Role.MANAGER),
    ("Integrations", "helpdesks:integrations", Role.MANAGER),
    ("Webhooks", "notifications:webhooks", Role.MANAGER),
]


def url_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


class Navigation:
    """What the header shows this person: their links, the current one, the unread notice count."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.user = getattr(request, "user", None)

    @cached_property
    def signed_in(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)

    @cached_property
    def role(self) -> str | None:
        return user_role(self.user) if self.signed_in else None

    @cached_property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "No role"

    @cached_property
    def items(self) -> list[NavItem]:
        if not self.role:
            return []
        visible = [
            (label, url)
            for label, name, min_role in NAV_ITEMS
            if role_at_least(self.user, min_role) and (url := url_or_none(name)) is not None
        ]
        # The longest matching prefix is the current page (/complaints/new/ is not also "Queue").
        path = self.request.path
        matches = [url for _, url in visible if path.startswith(url)]
        current = max(matches, key=len) if matches else None
        return [NavItem(label=label, url=url, current=url == current) for label, url in visible]

    @cached_property
    def unread(self) -> int:
        return notification_unread_count(recipient=self.user) if self.signed_in else 0

    @cached_property
    def notices_url(self) -> str | None:
        return url_or_none("notifications:list")

    @cached_property
    def notices_current(self) -> bool:
        return bool(self.notices_url and self.request.path.startswith(self.notices_url))

    @cached_property
    def admin_url(self) -> str | None:
        return url_or_none("admin:index") if self.signed_in and self.user.is_staff else None


def navigation(request: HttpRequest) -> dict[str, Any]:
    return {"nav": Navigation(request)}
